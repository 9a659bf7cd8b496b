using System.Globalization;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Bindings;

/// <summary>
/// <c>bindings.cron</c>, input only, as components-contrib <c>bindings/cron/cron.go</c>: each time the
/// <c>schedule</c> fires, an event with no data and the metadata <c>timeZone</c> (the scheduler's zone, which
/// dapr/kit's cron leaves at Go's <c>Local</c>) and <c>readTimeUTC</c> (Go's <c>time.Time.String()</c> of the
/// moment) goes to the handler. Like dapr/kit's cron, each firing runs on its own, without waiting for the one
/// before it, and what the handler answers is ignored.
/// </summary>
internal sealed class CronInputBinding(string name, CronSchedule schedule, ILogger logger, TimeProvider time) : IInputBinding
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private Task? _loop;

    /// <summary>Reads the component; a bad schedule is refused naming it, as contrib's Init does.</summary>
    public static CronInputBinding Create(ComponentResource c, ILogger logger, TimeProvider time)
    {
        var spec = c.Get("schedule") ?? throw new ResourceException(c.File, "spec.metadata[schedule]", $"binding '{c.Name}': schedule not set");
        try
        {
            return new CronInputBinding(c.Name, CronSchedule.Parse(spec), logger, time);
        }
        catch (FormatException e)
        {
            throw new ResourceException(c.File, "spec.metadata[schedule]", $"binding '{c.Name}': invalid schedule format '{spec}': {e.Message}");
        }
    }

    public void Start(Func<BindingEvent, CancellationToken, Task> handler) => _loop ??= Task.Run(() => RunAsync(handler, _stop.Token));

    private async Task RunAsync(Func<BindingEvent, CancellationToken, Task> handler, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        while (!ct.IsCancellationRequested)
        {
            if (schedule.Next(now) is not { } next)
            {
                logger.LogWarning("Cron binding {Binding}: the schedule never fires", name);
                return;
            }

            var wait = next - time.GetUtcNow();
            try
            {
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, time, ct);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            now = time.GetUtcNow();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["timeZone"] = "Local",
                ["readTimeUTC"] = GoTimeString(now),
            };
            lock (_running)
            {
                _running.RemoveAll(t => t.IsCompleted);
                _running.Add(FireAsync(handler, new BindingEvent([], metadata), ct));
            }
        }
    }

    private async Task FireAsync(Func<BindingEvent, CancellationToken, Task> handler, BindingEvent e, CancellationToken ct)
    {
        try
        {
            await handler(e, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            logger.LogDebug(ex, "Cron binding {Binding}: the event was not delivered", name);
        }
    }

    /// <summary>Go's <c>time.Time.String()</c> of a UTC time: <c>2006-01-02 15:04:05.999999999 +0000 UTC</c> (trailing zeros dropped).</summary>
    internal static string GoTimeString(DateTimeOffset t)
    {
        var utc = t.UtcDateTime;
        var fraction = (utc.Ticks % TimeSpan.TicksPerSecond).ToString("0000000", CultureInfo.InvariantCulture).TrimEnd('0');
        return utc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + (fraction.Length > 0 ? "." + fraction : "") + " +0000 UTC";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        Task[] running;
        lock (_running)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running);
        _stop.Dispose();
    }
}
