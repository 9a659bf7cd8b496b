using System.Net.Sockets;
using Dapr.Actors;
using Dapr.Actors.Client;
using Dapr.Actors.Runtime;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>
/// One test's surroundings: a temp folder with the components (an actor state store, in memory or in Redis) and a
/// name registry of its own, so tests running side by side never see each other's sidecars.
/// </summary>
public sealed class ActorWorld : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    public ActorWorld(ITestOutputHelper output, int? redisPort = null)
    {
        Output = output;
        Root = Path.Combine(Path.GetTempPath(), "platform-actor-tests", Guid.NewGuid().ToString("N"));
        Resources = Path.Combine(Root, "resources");
        Registry = Path.Combine(Root, "registry");
        Directory.CreateDirectory(Resources);
        var store = redisPort is { } port
            ? $"""
              apiVersion: dapr.io/v1alpha1
              kind: Component
              metadata:
                name: actorstore
              spec:
                type: state.redis
                version: v1
                metadata:
                  - name: redisHost
                    value: 127.0.0.1:{port}
                  - name: actorStateStore
                    value: "true"
              """
            : """
              apiVersion: dapr.io/v1alpha1
              kind: Component
              metadata:
                name: actorstore
              spec:
                type: state.in-memory
                version: v1
                metadata:
                  - name: actorStateStore
                    value: "true"
              """;
        File.WriteAllText(Path.Combine(Resources, "actorstore.yaml"), store);
    }

    public ITestOutputHelper Output { get; }

    public string Root { get; }

    public string Resources { get; }

    public string Registry { get; }

    /// <summary>A fresh app-id, so tests sharing one Redis never share keys.</summary>
    public static string NewAppId(string prefix = "counter") => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Starts one replica of <paramref name="appId"/> (app and sidecar); it is stopped with the world unless stopped before.</summary>
    public async Task<ActorReplica> StartReplicaAsync(string appId, string name, Action<ActorRuntimeOptions>? configure = null)
    {
        var replica = await ActorReplica.StartAsync(this, appId, name, configure);
        _owned.Add(replica);
        return replica;
    }

    /// <summary>Starts a sidecar for an app that is not the .NET actor SDK (see <see cref="RawActorApp"/>), or for no app (<paramref name="appPort"/> null).</summary>
    public async Task<SidecarHost> StartSidecarAsync(string appId, int? appPort, int httpPort = 0)
    {
        var sidecar = await SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = appId,
            AppPort = appPort,
            HttpPort = httpPort,
            ResourcesPaths = [Resources],
            RegistryFolder = Registry,
            LoggerFactory = LoggerFactory(),
        });
        _owned.Add(sidecar);
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
        return sidecar;
    }

    public void Own(IAsyncDisposable thing) => _owned.Add(thing);

    public ILoggerFactory LoggerFactory() =>
        Microsoft.Extensions.Logging.LoggerFactory.Create(b => b
            .AddProvider(new XunitLoggerProvider(Output))
            .SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft", LogLevel.Warning));

    public static ActorProxyOptions ProxyOptions(SidecarHost sidecar) => new() { HttpEndpoint = sidecar.HttpEndpoint };

    public static ICounter Counter(SidecarHost via, string id) =>
        ActorProxy.Create<ICounter>(new ActorId(id), CounterActor.TypeName, ProxyOptions(via));

    /// <summary>A port free right now (the sidecar gets it next; see <see cref="ActorReplica.StartAsync"/> for why and how a clash is retried).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/> holds, failing with <paramref name="what"/> after <paramref name="timeout"/> (30 s by default).</summary>
    public static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        T last;
        while (true)
        {
            last = await read();
            if (done(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}; last value: {last}");
            }

            await Task.Delay(50);
        }
    }

    public static Task Eventually(Func<bool> done, string what, TimeSpan? timeout = null) =>
        Eventually(() => Task.FromResult(done()), d => d, what, timeout);

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// One replica of an actor app: a real ASP.NET Core app with <c>AddActors</c>/<c>MapActorsHandlers</c> (Kestrel on a
/// port of its own choosing) and its sidecar.
/// </summary>
public sealed class ActorReplica : IAsyncDisposable
{
    private int _disposed;

    private ActorReplica(WebApplication app, SidecarHost sidecar, HostProbe probe)
    {
        App = app;
        Sidecar = sidecar;
        Probe = probe;
    }

    public WebApplication App { get; }

    public SidecarHost Sidecar { get; }

    public HostProbe Probe { get; }

    public string Name => Probe.Name;

    /// <summary>
    /// The app and the sidecar each need the other's address before they start: the sidecar's <c>AppPort</c>, and the
    /// app's <c>ActorRuntimeOptions.HttpEndpoint</c>. The SDK reads that option when <c>MapActorsHandlers</c> resolves the
    /// <c>ActorRuntime</c> (its <c>DaprHttpInteractor</c> keeps the string), which is before the app listens, so a holder
    /// filled in later would be read too early. So the sidecar's HTTP port is picked first (a free port), the app is
    /// built with it and started on port 0, and then the sidecar starts on the picked port with the app's real port.
    /// Should another process take the picked port in between, the sidecar cannot listen; then both are discarded and
    /// the pair is started again with a new port.
    /// </summary>
    public static async Task<ActorReplica> StartAsync(ActorWorld world, string appId, string name, Action<ActorRuntimeOptions>? configure)
    {
        for (var attempt = 1; ; attempt++)
        {
            var httpPort = ActorWorld.FreePort();
            var probe = new HostProbe(name);
            var app = Build($"http://127.0.0.1:{httpPort}", probe, configure);
            await app.StartAsync();
            var appPort = new Uri(app.Urls.First()).Port;
            SidecarHost sidecar;
            try
            {
                sidecar = await SidecarHost.StartAsync(new SidecarOptions
                {
                    AppId = appId,
                    AppPort = appPort,
                    HttpPort = httpPort,
                    ResourcesPaths = [world.Resources],
                    RegistryFolder = world.Registry,
                    LoggerFactory = world.LoggerFactory(),
                });
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                await app.StopAsync();
                await app.DisposeAsync();
                continue;
            }

            var replica = new ActorReplica(app, sidecar, probe);
            try
            {
                await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch
            {
                await replica.DisposeAsync();
                throw;
            }

            return replica;
        }
    }

    private static WebApplication Build(string sidecarEndpoint, HostProbe probe, Action<ActorRuntimeOptions>? configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(probe);
        builder.Services.AddActors(o =>
        {
            o.Actors.RegisterActor<CounterActor>();
            o.HttpEndpoint = sidecarEndpoint;
            configure?.Invoke(o);
        });
        var app = builder.Build();
        app.MapActorsHandlers();
        return app;
    }

    /// <summary>Stops the sidecar first (it leaves the registry, so no call is routed here any more), then the app.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await Sidecar.DisposeAsync();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
