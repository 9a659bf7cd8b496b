using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Configuration;

/// <summary>
/// <c>configuration.local.file</c>: this sidecar's own type for <c>components/local</c>-style setups without Redis
/// (Dapr has no in-memory or file configuration store: components-contrib's are redis, postgres, azure appconfig
/// and kubernetes). The file (<c>configFile</c>) is a JSON object of key → string in <c>configuration.redis</c>'s
/// layout, <c>"value||version"</c>, so what an operator writes here is what they would <c>SET</c> in Redis. A
/// subscription re-reads the file every <c>pollInterval</c> (default 1s) and passes on each key whose value or
/// version changed, and a key removed as an empty item, as <c>configuration.redis</c> does.
/// </summary>
public sealed class LocalFileConfigurationStore : IConfigurationStore
{
    private readonly string _path;
    private readonly TimeSpan _pollInterval;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, (CancellationTokenSource Stop, Task Loop)> _subscriptions = new(StringComparer.Ordinal);

    private LocalFileConfigurationStore(string path, TimeSpan pollInterval, ILogger logger)
    {
        _path = path;
        _pollInterval = pollInterval;
        _logger = logger;
    }

    /// <summary>Opens the component's file; a missing or unreadable file stops start-up, naming the file.</summary>
    public static LocalFileConfigurationStore Open(ComponentResource c, ILogger logger)
    {
        var configured = c.Get("configFile")!;
        var path = Path.IsPathRooted(configured) ? configured : Path.GetFullPath(configured, Path.GetDirectoryName(c.File) ?? ".");
        var interval = TimeSpan.FromSeconds(1);
        if (c.Get("pollInterval") is { } text && (!GoDuration.TryParse(text, TimeSpan.FromMilliseconds(1), out interval) || interval <= TimeSpan.Zero))
        {
            throw new ResourceException(c.File, "spec.metadata[pollInterval]", $"'{text}' is not a positive duration (e.g. 500ms, 2s)");
        }

        try
        {
            Read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
        {
            throw new ResourceException(c.File, "spec.metadata[configFile]", $"cannot read {path}: {e.Message}");
        }

        return new LocalFileConfigurationStore(path, interval, logger);
    }

    /// <summary>Every item in the file with a non-empty value.</summary>
    private static Dictionary<string, ConfigurationItem> Read(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the file must hold a JSON object of key → \"value||version\"");
        }

        var items = new Dictionary<string, ConfigurationItem>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var item = p.Value.ValueKind == JsonValueKind.String
                ? ConfigurationItem.Parse(p.Value.GetString()!)
                : throw new FormatException($"key '{p.Name}' must be a string \"value||version\", not {p.Value.ValueKind}");
            if (item.Value.Length > 0)
            {
                items[p.Name] = item;
            }
        }

        return items;
    }

    public Task<IReadOnlyDictionary<string, ConfigurationItem>> GetAsync(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        var all = Read(_path);
        IReadOnlyDictionary<string, ConfigurationItem> result = keys.Count == 0
            ? all
            : keys.Where(all.ContainsKey).Distinct(StringComparer.Ordinal).ToDictionary(k => k, k => all[k], StringComparer.Ordinal);
        return Task.FromResult(result);
    }

    public Task<string> SubscribeAsync(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, Func<ConfigurationUpdate, Task> handler, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString();
        var baseline = Read(_path); // what the file holds now: only later changes are updates
        var stop = new CancellationTokenSource();
        var loop = Task.Run(() => WatchAsync(id, keys.ToHashSet(StringComparer.Ordinal), baseline, handler, stop.Token), CancellationToken.None);
        _subscriptions[id] = (stop, loop);
        return Task.FromResult(id);
    }

    private async Task WatchAsync(string id, HashSet<string> keys, Dictionary<string, ConfigurationItem> last, Func<ConfigurationUpdate, Task> handler, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_pollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                Dictionary<string, ConfigurationItem> now;
                try
                {
                    now = Read(_path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
                {
                    // Half-written or broken: keep what was last read and look again at the next tick.
                    _logger.LogDebug("configuration.local.file: {Path} not read: {Error}", _path, e.Message);
                    continue;
                }

                var changed = now.Where(e => !last.TryGetValue(e.Key, out var before) || before.Value != e.Value.Value || before.Version != e.Value.Version)
                    .Select(e => (e.Key, e.Value))
                    .Concat(last.Keys.Where(k => !now.ContainsKey(k)).Select(k => (Key: k, Value: ConfigurationItem.Deleted)))
                    .Where(e => keys.Count == 0 || keys.Contains(e.Key))
                    .OrderBy(e => e.Key, StringComparer.Ordinal)
                    .ToList();
                last = now;
                foreach (var (key, item) in changed)
                {
                    ct.ThrowIfCancellationRequested(); // unsubscribed: nothing more goes out
                    try
                    {
                        await handler(new ConfigurationUpdate(id, new Dictionary<string, ConfigurationItem> { [key] = item }));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        _logger.LogWarning(e, "configuration.local.file: the update of key {Key} for subscription {Id} was not delivered", key, id);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Stops the subscription without waiting for a delivery under way: the app may be the one unsubscribing from
    /// inside its update handler.
    /// </summary>
    public async Task UnsubscribeAsync(string id, CancellationToken ct)
    {
        if (!_subscriptions.TryRemove(id, out var subscription))
        {
            throw new SubscriptionNotFoundException(id);
        }

        await subscription.Stop.CancelAsync();
        _ = subscription.Loop.ContinueWith(_ => subscription.Stop.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        var loops = new List<Task>();
        foreach (var id in _subscriptions.Keys.ToList())
        {
            if (_subscriptions.TryGetValue(id, out var s))
            {
                loops.Add(s.Loop);
            }

            try
            {
                await UnsubscribeAsync(id, CancellationToken.None);
            }
            catch (SubscriptionNotFoundException)
            {
            }
        }

        try
        {
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("configuration.local.file: a delivery to the app was still under way at shutdown");
        }
    }
}
