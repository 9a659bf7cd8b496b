using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Sidecar;

namespace Platform.Balances.Tests.Infrastructure;

/// <summary>
/// Stands in for the Ledger service (app-id <c>ledger</c>): an in-memory event log, the read API Balances uses to
/// heal gaps and rebuild (<c>GET /accounts</c>, <c>GET /accounts/{id}/events?fromSequence=N</c>), behind its own
/// sidecar, through which it also publishes to the <c>ledger</c> topic. It can be stopped and started again (the
/// log survives) to show what Balances does while the ledger cannot be reached.
/// </summary>
public sealed class FakeLedger(string componentsDir, string registry) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<string> _accounts = [];
    private readonly Dictionary<string, SortedDictionary<long, LedgerRecord>> _log = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private Platform.Sidecar.SidecarHost? _sidecar;
    private DaprClient? _dapr;

    /// <summary>Every events read the ledger answered, as "accountId@fromSequence".</summary>
    public ConcurrentQueue<string> EventReads { get; } = new();

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _holds = new(StringComparer.Ordinal);

    /// <summary>Reads of this account's events wait until the returned source is completed (to keep a rebuild in progress).</summary>
    public TaskCompletionSource HoldEventsOf(string accountId) =>
        _holds.GetOrAdd(accountId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/accounts", () =>
        {
            lock (_gate)
            {
                return Results.Ok(_accounts.ToArray());
            }
        });
        app.MapGet("/accounts/{accountId}/events", async (string accountId, long? fromSequence) =>
        {
            EventReads.Enqueue($"{accountId}@{fromSequence ?? 1}");
            if (_holds.TryGetValue(accountId, out var hold))
            {
                await hold.Task;
            }

            lock (_gate)
            {
                return _log.TryGetValue(accountId, out var events)
                    ? Results.Ok(events.Values.Where(e => e.Sequence >= (fromSequence ?? 1)).ToArray())
                    : Results.NotFound();
            }
        });
        await app.StartAsync();
        _app = app;
        var port = new Uri(app.Urls.First()).Port;
        _sidecar = await Platform.Sidecar.SidecarHost.StartAsync(new SidecarOptions { AppId = "ledger", AppPort = port, ResourcesPaths = [componentsDir], RegistryFolder = registry });
        await _sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
        _dapr = new DaprClientBuilder().UseHttpEndpoint(_sidecar.HttpEndpoint).UseGrpcEndpoint(_sidecar.GrpcEndpoint).Build();
    }

    /// <summary>Takes the ledger away entirely (app and sidecar): invocations of <c>ledger</c> fail until <see cref="StartAsync"/>.</summary>
    public async Task StopAsync()
    {
        _dapr?.Dispose();
        _dapr = null;
        if (_sidecar is not null)
        {
            await _sidecar.DisposeAsync();
            _sidecar = null;
        }

        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    /// <summary>Appends to the log without publishing (a publish the broker lost, say).</summary>
    public void Append(LedgerRecord e)
    {
        lock (_gate)
        {
            if (!_log.TryGetValue(e.AccountId, out var events))
            {
                _log[e.AccountId] = events = [];
                _accounts.Add(e.AccountId);
            }

            events[e.Sequence] = e;
        }
    }

    /// <summary>Appends (if new) and publishes, as the Ledger does: in the log first, then on the topic.</summary>
    public async Task PublishAsync(LedgerRecord e, DaprClient? via = null)
    {
        Append(e);
        var dapr = via ?? _dapr ?? throw new InvalidOperationException("the fake ledger is stopped: publish through another sidecar");
        await dapr.PublishEventAsync("pubsub", "ledger", e, new Dictionary<string, string> { ["cloudevent.type"] = $"ledger.{e.Kind}" });
    }

    public async Task PublishAllAsync(IEnumerable<LedgerRecord> events)
    {
        foreach (var e in events)
        {
            await PublishAsync(e);
        }
    }

    public IReadOnlyList<LedgerRecord> All()
    {
        lock (_gate)
        {
            return [.. _log.Values.SelectMany(e => e.Values)];
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var hold in _holds.Values)
        {
            hold.TrySetResult();
        }

        await StopAsync();
    }
}
