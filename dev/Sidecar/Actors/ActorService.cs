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
public sealed partial class ActorService : IAsyncDisposable
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
