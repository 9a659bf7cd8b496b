using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.Resources;
using Platform.Sidecar.State;

namespace Platform.Sidecar.Actors;

/// <summary>What the app answered to an actor call: status, headers and body, passed back to the caller unchanged.</summary>
public sealed record ActorResponse(int Status, IReadOnlyList<KeyValuePair<string, string[]>> Headers, byte[] Body)
{
    /// <summary>True when the app asked to cancel the reminder or timer that fired (<c>X-DaprReminderCancel</c>).</summary>
    public bool CancelRequested => Headers.Any(h => h.Key.Equals("X-DaprReminderCancel", StringComparison.OrdinalIgnoreCase)
        && h.Value.Any(v => v.Equals("true", StringComparison.OrdinalIgnoreCase) || v == "1"));
}

/// <summary>
/// The actor runtime of one sidecar, daprd's <c>pkg/actors</c> in small: learns the hosted types from the app
/// (<c>GET /dapr/config</c>), places each actor id on one host by consistent hashing over the registry
/// (<see cref="ActorPlacement"/>), keeps the table of actors active here with their turn locks and timers, calls
/// the app's actor callbacks, stores actor state under <c>{appId}||{type}||{id}||{key}</c> in the actor state
/// store, runs reminders (<see cref="ActorReminders"/>), deactivates idle actors, and hands actors over when the
/// set of hosts changes.
/// </summary>
public sealed class ActorService : IAsyncDisposable
{
    /// <summary>Marks an actor call one sidecar forwards to the owner's sidecar: the receiver handles it itself.</summary>
    public const string ForwardedHeader = "x-platform-sidecar-actor-forwarded";

    public const string ReentrancyHeader = "Dapr-Reentrancy-Id";

    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "dapr-api-token", ForwardedHeader,
    };

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ReloadEvery = TimeSpan.FromSeconds(5);

    private readonly string _appId;
    private readonly string _instanceId;
    private readonly Components _components;
    private readonly AppChannel _app;
    private readonly NameRegistry _registry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ActorPlacement _placement;
    private readonly ActorReminders _reminders;
    private readonly ConcurrentDictionary<string, ActiveActor> _active = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _discovered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HttpMessageInvoker _peers = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(2),
    });

    private readonly Lazy<IStateStore?> _store;
    private ActorAppConfig _config = ActorAppConfig.None;
    private Replica? _self;
    private IDisposable? _registration;
    private Task _maintenance = Task.CompletedTask;

    public ActorService(string appId, string instanceId, Components components, AppChannel app, NameRegistry registry, ILogger logger, TimeProvider time)
    {
        _appId = appId;
        _instanceId = instanceId;
        _components = components;
        _app = app;
        _registry = registry;
        _logger = logger;
        _time = time;
        _placement = new ActorPlacement(registry);
        _store = new Lazy<IStateStore?>(FindStore);
        _reminders = new ActorReminders(appId, () => _store.Value, Owns, FireReminderAsync, logger, time);
    }

    /// <summary>The actor types this sidecar's app hosts, with their settings (empty until discovery).</summary>
    public IReadOnlyDictionary<string, ActorTypeConfig> HostedTypes => _config.Types;

    /// <summary>The name of the actor state store component, or null when none is marked <c>actorStateStore: "true"</c>.</summary>
    public string? StateStoreName { get; private set; }

    /// <summary>Active actors per hosted type (what <c>GET /v1.0/metadata</c> reports under <c>actors</c>).</summary>
    public IReadOnlyList<(string Type, int Count)> ActiveCounts()
    {
        var counts = _config.Types.Keys.ToDictionary(t => t, _ => 0, StringComparer.Ordinal);
        foreach (var a in _active.Values)
        {
            if (!a.Deactivated && counts.TryGetValue(a.Type, out var n))
            {
                counts[a.Type] = n + 1;
            }
        }

        return [.. counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => (c.Key, c.Value))];
    }

    internal static string Key(string type, string id) => $"{type}||{id}";

    /// <summary>Tells the service how this sidecar is registered (called once its HTTP port is known).</summary>
    internal void Attach(Replica self) => _self = self;

    /// <summary>
    /// Asks the app for its actor types (<c>GET /dapr/config</c>, after the app port opened), registers them with
    /// the name registry so other sidecars place actors here, and starts reminders, idle deactivation and rebalancing.
    /// </summary>
    public async Task StartAsync(CancellationToken ct)
    {
        try
        {
            // A gRPC app hosts no actors: daprd asks an app for its actor types over HTTP only (the gRPC channel's
            // GetAppConfig has no such call; dapr/dapr pkg/channel/grpc/grpc_channel.go).
            if (_app.BaseAddress is null || _self is null || _app.Protocol == AppProtocol.Grpc)
            {
                return;
            }

            _config = await DiscoverAsync(ct);
            if (_config.Types.Count == 0)
            {
                return;
            }

            if (_store.Value is null)
            {
                _logger.LogWarning("App {AppId} hosts actors but no state store has actorStateStore: \"true\"; actor state and reminders are unavailable", _appId);
            }

            _registration = _registry.Register(_self with { ActorTypes = [.. _config.Types.Keys.Order(StringComparer.Ordinal)] });
            _logger.LogInformation("App {AppId} hosts actor types {Types}", _appId, string.Join(", ", _config.Types.Keys));
            _maintenance = Task.Run(() => MaintainAsync(_stopping.Token), CancellationToken.None);
        }
        finally
        {
            _discovered.TrySetResult();
        }
    }

    private async Task<ActorAppConfig> DiscoverAsync(CancellationToken ct)
    {
        using var lease = await _app.AcquireAsync(ct);
        using var request = _app.Request(HttpMethod.Get, "/dapr/config");
        request.Headers.TryAddWithoutValidation("dapr-app-id", _appId);
        try
        {
            using var response = await _app.Client.SendAsync(request, ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return ActorAppConfig.None;
            }

            return ActorAppConfig.Parse(await response.Content.ReadAsByteArrayAsync(ct));
        }
        catch (Exception e) when (e is HttpRequestException or JsonException)
        {
            _logger.LogWarning("GET /dapr/config failed, no actors hosted: {Error}", e.Message);
            return ActorAppConfig.None;
        }
    }

    // ---- placement ----

    /// <summary>The sidecar that owns the actor; waits for this sidecar's own discovery when nothing hosts the type yet.</summary>
    internal async Task<Replica?> OwnerAsync(string type, string id, bool fresh, CancellationToken ct)
    {
        var owner = _placement.Owner(type, id, fresh);
        if (owner is null && !_discovered.Task.IsCompleted)
        {
            try
            {
                await _discovered.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            }
            catch (TimeoutException)
            {
                return null;
            }

            owner = _placement.Owner(type, id, fresh: true);
        }

        return owner;
    }

    internal bool IsSelf(Replica replica) => replica.InstanceId == _instanceId;

    private bool Owns(string type, string id) =>
        _config.Types.ContainsKey(type) && _placement.Owner(type, id)?.InstanceId == _instanceId;

    /// <summary>Actor state and timers belong to an actor that is active here or placed here (daprd: ERR_ACTOR_INSTANCE_MISSING otherwise).</summary>
    internal bool IsLocal(string type, string id) =>
        _config.Types.ContainsKey(type) && ((_active.TryGetValue(Key(type, id), out var a) && !a.Deactivated) || Owns(type, id));

    // ---- calls into the app ----

    /// <summary>Calls actor method <paramref name="method"/> in this sidecar's app, in the actor's turn.</summary>
    internal async Task<ActorResponse> InvokeLocalAsync(string type, string id, string method, byte[] body,
        IEnumerable<KeyValuePair<string, string[]>> headers, string? reentrancyId, CancellationToken ct)
    {
        var config = _config.Types.TryGetValue(type, out var c) ? c : throw ActorErrors.NoAddress(type, id);
        var reentrancy = config.Reentrancy ? (string.IsNullOrEmpty(reentrancyId) ? Guid.NewGuid().ToString() : reentrancyId) : null;
        var path = $"/actors/{Escape(type)}/{Escape(id)}/method/{string.Join('/', method.Split('/').Select(Escape))}";
        return await WithTurnAsync(type, id, reentrancy, config.MaxStackDepth,
            _ => CallAppAsync(HttpMethod.Put, path, body, headers, reentrancy, ct), ct);
    }

    private async Task<bool> FireReminderAsync(string type, ReminderRecord r, CancellationToken ct)
    {
        if (!_config.Types.TryGetValue(type, out var config))
        {
            return false;
        }

        var body = CallbackBody(null, r.DueTime, r.Period, r.Data?.GetRawText());
        var reentrancy = config.Reentrancy ? Guid.NewGuid().ToString() : null;
        var response = await WithTurnAsync(type, r.ActorId, reentrancy, config.MaxStackDepth,
            _ => CallAppAsync(HttpMethod.Put, $"/actors/{Escape(type)}/{Escape(r.ActorId)}/method/remind/{Escape(r.Name)}", body, JsonContent, reentrancy, ct), ct);
        if (response.Status is < 200 or > 299)
        {
            _logger.LogWarning("Reminder {Name} of actor {Type}/{Id}: the app answered {Status}", r.Name, type, r.ActorId, response.Status);
        }

        return response.CancelRequested;
    }

    /// <summary>Runs <paramref name="work"/> in the actor's turn, activating the actor here if needed.</summary>
    private async Task<T> WithTurnAsync<T>(string type, string id, string? reentrancyId, int maxDepth, Func<ActiveActor, Task<T>> work, CancellationToken ct)
    {
        while (true)
        {
            var actor = _active.GetOrAdd(Key(type, id), _ => new ActiveActor(type, id, _time.GetUtcNow()));
            using var turn = await actor.Lock.EnterAsync(reentrancyId, maxDepth, ct);
            if (actor.Deactivated)
            {
                // Deactivated while we waited: start over with a fresh activation.
                continue;
            }

            actor.Touch(_time.GetUtcNow());
            try
            {
                return await work(actor);
            }
            finally
            {
                actor.Touch(_time.GetUtcNow());
            }
        }
    }

    private static readonly KeyValuePair<string, string[]>[] JsonContent = [new("Content-Type", ["application/json"])];

    private async Task<ActorResponse> CallAppAsync(HttpMethod verb, string path, byte[]? body,
        IEnumerable<KeyValuePair<string, string[]>>? headers, string? reentrancyId, CancellationToken ct)
    {
        using var lease = await _app.AcquireAsync(ct);
        using var request = _app.Request(verb, path);
        request.Version = HttpVersion.Version11;
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var (name, values) in headers ?? [])
        {
            if (NotForwarded.Contains(name) || name.Equals(ReentrancyHeader, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        if (reentrancyId is not null)
        {
            request.Headers.TryAddWithoutValidation(ReentrancyHeader, reentrancyId);
        }

        try
        {
            using var response = await _app.Client.SendAsync(request, ct);
            var bytes = await response.Content.ReadAsByteArrayAsync(ct);
            return new ActorResponse((int)response.StatusCode, Headers(response), bytes);
        }
        catch (HttpRequestException e)
        {
            throw ActorErrors.InvokeMethod($"the app did not answer {verb} {path}: {e.Message}");
        }
    }

    /// <summary>Sends an actor API call to the sidecar that owns the actor; connection failures surface as <see cref="HttpRequestException"/>.</summary>
    internal async Task<ActorResponse> ForwardAsync(Replica owner, string method, string pathAndQuery, byte[] body,
        IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(owner.HttpEndpoint + pathAndQuery)) { Version = HttpVersion.Version11 };
        if (body.Length > 0 || method is not ("GET" or "DELETE" or "HEAD"))
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var (name, values) in headers)
        {
            if (NotForwarded.Contains(name) && !name.Equals("dapr-api-token", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        request.Headers.TryAddWithoutValidation(ForwardedHeader, _appId);
        using var response = await _peers.SendAsync(request, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        return new ActorResponse((int)response.StatusCode, Headers(response), bytes);
    }

    private static List<KeyValuePair<string, string[]>> Headers(HttpResponseMessage response) =>
        [.. Invoker.ResponseHeaders(response)
            .Where(h => !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(h => new KeyValuePair<string, string[]>(h.Key, [.. h.Value]))];

    // ---- state ----

    private IStateStore? FindStore()
    {
        var c = _components.All.FirstOrDefault(c => c.Category == "state" && string.Equals(c.Get("actorStateStore"), "true", StringComparison.OrdinalIgnoreCase));
        if (c is null)
        {
            return null;
        }

        StateStoreName = c.Name;
        return _components.StateStore(c.Name).Store;
    }

    private IStateStore Store() => _store.Value ?? throw ActorErrors.RuntimeNotFound();

    /// <summary>The key daprd stores actor state under (docs "Querying actor state externally").</summary>
    public string StateKey(string type, string id, string key) => $"{_appId}||{type}||{id}||{key}";

    /// <summary>Reads a key of the actor's state; like daprd, from any sidecar (the key carries this sidecar's app-id).</summary>
    internal async Task<StateItem?> GetStateAsync(string type, string id, string key, CancellationToken ct)
    {
        var store = Store();
        try
        {
            return await store.GetAsync(StateKey(type, id, key), ct);
        }
        catch (Exception e) when (e is not (OperationCanceledException or Api.DaprError))
        {
            throw ActorErrors.StateGet(e.Message);
        }
    }

    /// <summary>Applies an actor's state transaction (keys as the actor gave them) atomically; the actor must be active or placed here.</summary>
    internal async Task ApplyStateAsync(string type, string id, IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var store = Store();
        RequireLocal(type, id);
        var prefixed = operations.Select(op => op switch
        {
            Upsert u => (StateOperation)(u with { Key = StateKey(type, id, u.Key) }),
            _ => op with { Key = StateKey(type, id, op.Key) },
        }).ToList();
        try
        {
            await store.ApplyAsync(prefixed, ct);
        }
        catch (Exception e) when (e is not (OperationCanceledException or Api.DaprError))
        {
            throw ActorErrors.StateTransaction(e.Message);
        }
    }

    private void RequireLocal(string type, string id)
    {
        if (!IsLocal(type, id))
        {
            throw ActorErrors.InstanceMissing();
        }
    }

    // ---- reminders ----

    /// <summary>daprd refuses reminder calls on a sidecar whose app does not host the type (ERR_ACTOR_REMINDER_NON_HOSTED).</summary>
    internal void RequireReminderHost(string type)
    {
        Store();
        if (!_config.Types.ContainsKey(type))
        {
            throw ActorErrors.ReminderNonHosted();
        }
    }

    /// <summary>Timers can only be created for types this sidecar's app hosts (daprd: "actor type not registered").</summary>
    internal void RequireTimerHost(string type, string id)
    {
        if (!_config.Types.ContainsKey(type))
        {
            throw ActorErrors.TimerCreate($"can't create timer for actor {type}||{id}: actor type not registered");
        }
    }

    internal Task RegisterReminderAsync(string type, string id, string name, string dueTime, string period, string? ttl, JsonElement? data, CancellationToken ct)
    {
        RequireReminderHost(type);
        return _reminders.RegisterAsync(type, id, name, dueTime, period, ttl, data, ct);
    }

    internal Task<ReminderRecord?> GetReminderAsync(string type, string id, string name, CancellationToken ct)
    {
        RequireReminderHost(type);
        return _reminders.GetAsync(type, id, name, ct);
    }

    internal Task<bool> DeleteReminderAsync(string type, string id, string name, CancellationToken ct)
    {
        RequireReminderHost(type);
        return _reminders.DeleteAsync(type, id, name, ct);
    }

    // ---- timers ----

    /// <summary>Starts (or replaces) an in-memory timer of an actor active here; it stops when the actor deactivates.</summary>
    internal void RegisterTimer(string type, string id, string name, string callback, string dueTime, string period, string? ttl, string? dataJson)
    {
        RequireTimerHost(type, id);
        ActorSchedule schedule;
        try
        {
            schedule = ActorSchedule.Parse(dueTime, period, ttl, _time.GetUtcNow());
        }
        catch (FormatException e)
        {
            throw ActorErrors.TimerCreate(e.Message); // daprd: ERR_ACTOR_TIMER_CREATE (500)
        }

        var timer = new ActorTimer(name, callback, dueTime, period, ttl, dataJson, schedule);
        while (true)
        {
            // Registering a timer does not take the turn: the actor usually does it from inside one of its own calls.
            var actor = _active.GetOrAdd(Key(type, id), _ => new ActiveActor(type, id, _time.GetUtcNow()));
            if (actor.SetTimer(timer))
            {
                _ = Task.Run(() => RunTimerAsync(actor, timer), CancellationToken.None);
                return;
            }
        }
    }

    internal void DeleteTimer(string type, string id, string name)
    {
        if (_active.TryGetValue(Key(type, id), out var actor))
        {
            actor.RemoveTimer(name);
        }
    }

    private async Task RunTimerAsync(ActiveActor actor, ActorTimer timer)
    {
        var ct = timer.Stopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        var fired = 0;
        DateTimeOffset? last = null;
        try
        {
            while (timer.Schedule.Next(fired, last) is { } next)
            {
                await ActorReminders.DelayUntilAsync(next, _time, linked.Token);
                if (!await FireTimerAsync(actor, timer, linked.Token))
                {
                    return;
                }

                fired++;
                last = _time.GetUtcNow();
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Timer {Name} of actor {Type}/{Id} stopped", timer.Name, actor.Type, actor.Id);
        }
        finally
        {
            actor.RemoveTimer(timer.Name, timer);
        }
    }

    /// <summary>Fires one timer tick in the actor's turn; false when the timer must stop (actor gone, or the app cancelled it).</summary>
    private async Task<bool> FireTimerAsync(ActiveActor actor, ActorTimer timer, CancellationToken ct)
    {
        if (!_config.Types.TryGetValue(actor.Type, out var config))
        {
            return false;
        }

        var reentrancy = config.Reentrancy ? Guid.NewGuid().ToString() : null;
        using var turn = await actor.Lock.EnterAsync(reentrancy, config.MaxStackDepth, ct);
        if (actor.Deactivated || timer.Stopping.IsCancellationRequested)
        {
            return false;
        }

        actor.Touch(_time.GetUtcNow());
        try
        {
            var body = CallbackBody(timer.Callback, timer.DueTime, timer.Period, timer.DataJson);
            var response = await CallAppAsync(HttpMethod.Put, $"/actors/{Escape(actor.Type)}/{Escape(actor.Id)}/method/timer/{Escape(timer.Name)}", body, JsonContent, reentrancy, ct);
            if (response.Status is < 200 or > 299)
            {
                _logger.LogWarning("Timer {Name} of actor {Type}/{Id}: the app answered {Status}", timer.Name, actor.Type, actor.Id, response.Status);
            }

            return !response.CancelRequested;
        }
        catch (Api.DaprError e)
        {
            _logger.LogWarning("Timer {Name} of actor {Type}/{Id} failed: {Error}", timer.Name, actor.Type, actor.Id, e.Message);
            return true;
        }
        finally
        {
            actor.Touch(_time.GetUtcNow());
        }
    }

    /// <summary>daprd's <c>ReminderResponse</c>/<c>TimerResponse</c>: the registration strings echoed verbatim.</summary>
    private static byte[] CallbackBody(string? callback, string dueTime, string period, string? dataJson)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (callback is not null)
            {
                w.WriteString("callback", callback);
            }

            w.WriteString("dueTime", dueTime);
            w.WriteString("period", period);
            if (dataJson is not null)
            {
                w.WritePropertyName("data");
                w.WriteRawValue(dataJson, skipInputValidation: true);
            }

            w.WriteEndObject();
        }

        return ms.ToArray();
    }

    // ---- deactivation and rebalancing ----

    private async Task MaintainAsync(CancellationToken ct)
    {
        var types = _config.Types.Keys.ToList();
        var scan = _config.Types.Values.Min(c => c.ScanInterval);
        var tick = scan < Tick ? scan : Tick;
        var lastScan = _time.GetUtcNow();
        var lastReload = DateTimeOffset.MinValue;
        var hosts = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            try
            {
                var changed = new List<string>();
                foreach (var type in types)
                {
                    var signature = string.Join(',', _placement.Hosts(type).Select(h => h.InstanceId));
                    if (!hosts.TryGetValue(type, out var before) || before != signature)
                    {
                        hosts[type] = signature;
                        changed.Add(type);
                    }
                }

                await HandOverAsync(ct);
                var now = _time.GetUtcNow();
                if (now - lastReload >= ReloadEvery)
                {
                    await _reminders.ReconcileAsync(types, ct);
                    lastReload = now;
                }
                else if (changed.Count > 0)
                {
                    await _reminders.ReconcileAsync(changed, ct);
                }

                if (now - lastScan >= scan)
                {
                    lastScan = now;
                    await DeactivateIdleAsync(now);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Actor maintenance failed; trying again");
            }

            try
            {
                await Task.Delay(tick, _time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Deactivates actors idle for longer than their type's <c>actorIdleTimeout</c> (those in a call stay).</summary>
    private async Task DeactivateIdleAsync(DateTimeOffset now)
    {
        foreach (var actor in _active.Values)
        {
            if (_config.Types.TryGetValue(actor.Type, out var config) && now - actor.LastUsed >= config.IdleTimeout && actor.Lock.TryEnter(out var turn))
            {
                await DeactivateAsync(actor, turn);
            }
        }
    }

    /// <summary>Deactivates actors placed elsewhere now that the hosts changed; the new owner activates them from their saved state.</summary>
    private async Task HandOverAsync(CancellationToken ct)
    {
        var hosts = new Dictionary<string, Replica[]>(StringComparer.Ordinal);
        foreach (var actor in _active.Values)
        {
            if (actor.Deactivated || !_config.Types.ContainsKey(actor.Type))
            {
                continue;
            }

            if (!hosts.TryGetValue(actor.Type, out var typeHosts))
            {
                hosts[actor.Type] = typeHosts = _placement.Hosts(actor.Type);
            }

            // No hosts at all means this sidecar is leaving the registry (shutting down): nothing to hand over to.
            if (typeHosts.Length == 0 || _placement.Owner(typeHosts, actor.Id)?.InstanceId == _instanceId)
            {
                continue;
            }

            if (actor.Lock.TryEnter(out var turn))
            {
                _logger.LogInformation("Actor {Type}/{Id} moved to another host; deactivating it here", actor.Type, actor.Id);
                await DeactivateAsync(actor, turn);
            }

            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Tells the app to deactivate the actor (<c>DELETE /actors/{type}/{id}</c>), holding its turn throughout.</summary>
    private async Task DeactivateAsync(ActiveActor actor, IDisposable turn)
    {
        using (turn)
        {
            try
            {
                var response = await CallAppAsync(HttpMethod.Delete, $"/actors/{Escape(actor.Type)}/{Escape(actor.Id)}", null, null, null, _stopping.Token);
                if (response.Status is < 200 or > 299)
                {
                    _logger.LogWarning("Deactivating actor {Type}/{Id}: the app answered {Status}", actor.Type, actor.Id, response.Status);
                }
            }
            catch (Exception e) when (e is Api.DaprError or HttpRequestException)
            {
                _logger.LogWarning("Deactivating actor {Type}/{Id} failed: {Error}", actor.Type, actor.Id, e.Message);
            }
            finally
            {
                actor.MarkDeactivated();
                _active.TryRemove(KeyValuePair.Create(actor.Key, actor));
            }
        }
    }

    // ---- helpers ----

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    public async ValueTask DisposeAsync()
    {
        _discovered.TrySetResult();
        await _stopping.CancelAsync();
        await _maintenance;
        foreach (var actor in _active.Values)
        {
            actor.MarkDeactivated();
        }

        await _reminders.DisposeAsync();
        _registration?.Dispose();
        _peers.Dispose();
        _stopping.Dispose();
    }
}
