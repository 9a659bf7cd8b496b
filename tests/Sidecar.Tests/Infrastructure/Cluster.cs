namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>Which components a test cluster runs on.</summary>
public enum Backend
{
    InMemory,
    Redis,
}

/// <summary>
/// One test's neighbourhood of sidecars and apps: its own name-registry folder (so no test sees another's
/// sidecars), its own components folder, and everything it started stopped at the end.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _root;

    private Cluster(Backend backend, RedisServer? redis, string pubsubExtra)
    {
        Backend = backend;
        _root = Directory.CreateTempSubdirectory("platform-test-").FullName;
        Registry = Path.Combine(_root, "registry");
        ComponentsDir = Directory.CreateDirectory(Path.Combine(_root, "components")).FullName;
        WriteComponent("statestore.yaml", backend == Backend.Redis
            ? Yaml.Component("statestore", "state.redis", ("redisHost", redis!.Host), ("actorStateStore", "true"))
            : Yaml.Component("statestore", "state.in-memory", ("actorStateStore", "true")));
        WriteComponent("pubsub.yaml", backend == Backend.Redis
            ? Yaml.Component("pubsub", "pubsub.redis", [("redisHost", redis!.Host), ("processingTimeout", "1s"), ("redeliverInterval", "200ms"), .. Yaml.Parse(pubsubExtra)])
            : Yaml.Component("pubsub", "pubsub.in-memory"));
    }

    public Backend Backend { get; }

    public string Registry { get; }

    public string ComponentsDir { get; }

    /// <param name="pubsubExtra">extra pubsub.redis metadata as "name=value;name=value"</param>
    public static Cluster Create(Backend backend, RedisServer? redis = null, string pubsubExtra = "") => new(backend, redis, pubsubExtra);

    public void WriteComponent(string file, string yaml) => File.WriteAllText(Path.Combine(ComponentsDir, file), yaml);

    /// <summary>The sidecars started for an app-id, in start order.</summary>
    public IEnumerable<SidecarHost> Sidecars(string appId) => _owned.OfType<SidecarHost>().Where(s => s.AppId == appId);

    public async Task<SidecarHost> StartSidecarAsync(string appId, TestApp? app = null, int maxConcurrency = -1, Func<SidecarOptions, SidecarOptions>? configure = null)
    {
        var options = new SidecarOptions
        {
            AppId = appId,
            AppPort = app?.Port,
            ResourcesPaths = [ComponentsDir],
            RegistryFolder = Registry,
            AppMaxConcurrency = maxConcurrency,
        };
        var sidecar = await SidecarHost.StartAsync(configure?.Invoke(options) ?? options);
        _owned.Add(sidecar);
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        return sidecar;
    }

    public async Task<TestApp> StartAppAsync(string name, Action<Microsoft.AspNetCore.Builder.WebApplication, TestApp> map, bool dapr = true)
    {
        var app = await TestApp.StartAsync(name, map, dapr);
        _owned.Add(app);
        return app;
    }

    /// <summary>A gRPC app (<see cref="GrpcTestApp"/>) with its sidecar, started with <c>--app-protocol grpc</c>.</summary>
    public async Task<(GrpcTestApp App, SidecarHost Sidecar)> StartGrpcAsync(string appId, Action<GrpcTestApp> configure, int maxConcurrency = -1,
        Func<SidecarOptions, SidecarOptions>? options = null)
    {
        var app = await GrpcTestApp.StartAsync(configure);
        _owned.Add(app);
        var sidecar = await StartSidecarAsync(appId, null, maxConcurrency, o =>
        {
            o = o with { AppPort = app.Port, AppProtocol = Platform.Sidecar.Invocation.AppProtocol.Grpc };
            return options?.Invoke(o) ?? o;
        });
        return (app, sidecar);
    }

    /// <summary>An app with its sidecar.</summary>
    public async Task<(TestApp App, SidecarHost Sidecar)> StartAsync(string appId, Action<Microsoft.AspNetCore.Builder.WebApplication, TestApp> map, string? replicaName = null, int maxConcurrency = -1,
        Func<SidecarOptions, SidecarOptions>? configure = null)
    {
        var app = await StartAppAsync(replicaName ?? appId, map);
        return (app, await StartSidecarAsync(appId, app, maxConcurrency, configure));
    }

    /// <summary>Writes a file next to the components (a Configuration for --config, say) and returns its path.</summary>
    public string WriteFile(string name, string text)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }

    public DaprClient Client(SidecarHost sidecar) => Client(sidecar.HttpEndpoint, sidecar.GrpcEndpoint);

    /// <summary>
    /// The sidecar a single-sidecar conformance test talks to: a real daprd when <c>DAPR_CONFORMANCE_HTTP_ENDPOINT</c>
    /// and <c>DAPR_CONFORMANCE_GRPC_ENDPOINT</c> are set (its state store must be named <c>statestore</c>, app-id
    /// <c>orders</c>), else a dev sidecar started here. Running the suite both ways shows any drift.
    /// </summary>
    public async Task<(string Http, string Grpc)> SingleSidecarAsync(string appId)
    {
        if (External is { } external)
        {
            return external;
        }

        var sidecar = await StartSidecarAsync(appId);
        return (sidecar.HttpEndpoint, sidecar.GrpcEndpoint);
    }

    public static (string Http, string Grpc)? External =>
        Environment.GetEnvironmentVariable("DAPR_CONFORMANCE_HTTP_ENDPOINT") is { Length: > 0 } http
        && Environment.GetEnvironmentVariable("DAPR_CONFORMANCE_GRPC_ENDPOINT") is { Length: > 0 } grpc
            ? (http, grpc)
            : null;

    public DaprClient Client((string Http, string Grpc) endpoints) => Client(endpoints.Http, endpoints.Grpc);

    public DaprClient Client(SidecarHost sidecar, string apiToken) => Client(sidecar.HttpEndpoint, sidecar.GrpcEndpoint, apiToken);

    private DaprClient Client(string http, string grpc, string? apiToken = null)
    {
        var client = new DaprClientBuilder().UseHttpEndpoint(http).UseGrpcEndpoint(grpc).UseDaprApiToken(apiToken).Build();
        _owned.Add(new Disposer(client.Dispose));
        return client;
    }

    /// <summary>Stops one thing early (a replica leaving); the cluster will not stop it again.</summary>
    public async Task StopAsync(IAsyncDisposable item)
    {
        _owned.Remove(item);
        await item.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Disposer(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}

public static class Yaml
{
    public static string Component(string name, string type, params (string Name, string Value)[] metadata) =>
        ComponentOf(name, type, [.. metadata.Select(Value)]);

    /// <summary>
    /// A component whose metadata <paramref name="secretRefs"/> come from the secret store <paramref name="secretStore"/>
    /// (<c>secretKeyRef</c> with the secret's name and, where given, its key; <c>auth.secretStore</c>).
    /// </summary>
    public static string ComponentWithSecrets(string name, string type, string secretStore, (string Name, string Value)[] metadata,
        params (string Name, string Secret, string? Key)[] secretRefs) =>
        ComponentOf(name, type, [.. metadata.Select(Value), .. secretRefs.Select(SecretRef)]) + $"auth:\n  secretStore: {secretStore}\n";

    private static string Value((string Name, string Value) m) => $"    - name: {m.Name}\n      value: \"{m.Value}\"\n";

    private static string SecretRef((string Name, string Secret, string? Key) r) =>
        $"    - name: {r.Name}\n      secretKeyRef:\n        name: {r.Secret}\n" + (r.Key is null ? "" : $"        key: {r.Key}\n");

    private static string ComponentOf(string name, string type, string[] entries) =>
        $"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: {type}
          version: v1
          metadata:{(entries.Length == 0 ? " []" : "")}
        {string.Concat(entries)}
        """;

    /// <summary>A Dapr resource (Configuration, Resiliency, ...) whose <c>spec</c> is <paramref name="spec"/>, written as at the spec's own level.</summary>
    public static string Resource(string kind, string name, string spec) =>
        $"apiVersion: dapr.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
        + string.Concat(spec.Split('\n').Select(line => line.Length == 0 ? "\n" : $"  {line}\n"));

    public static (string, string)[] Parse(string pairs) =>
        pairs.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).Select(p => (p[0], p[1])).ToArray();
}
