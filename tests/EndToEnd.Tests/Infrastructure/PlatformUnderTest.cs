using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Sidecar;

namespace Platform.EndToEnd.Tests.Infrastructure;

/// <summary>Which services a test needs, and fraud's thresholds (fraud reads them from its environment).</summary>
public sealed record PlatformOptions(bool Balances = true, bool Fraud = false)
{
    public IReadOnlyDictionary<string, string> FraudEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Settings added to the ledger's environment (e.g. a fault to inject).</summary>
    public IReadOnlyDictionary<string, string> LedgerEnvironment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Ledger, Balances and fraud as OS processes started from their build output, each with its own sidecar on
/// free ports, on one real redis-server (state store with actors, Redis Streams pub/sub). An observer app with
/// its own sidecar subscribes to <c>ledger</c> and <c>alerts</c> and records every delivery, as any other
/// consumer of the stream would. Clients reach every service through the ledger's sidecar (service invocation).
/// </summary>
public sealed class PlatformUnderTest : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _root = Directory.CreateTempSubdirectory("e2e-").FullName;
    private readonly Dictionary<string, HttpClient> _clients = [];
    private Sidecar.SidecarHost _ledgerSidecar = null!;
    private Redis _redis = null!;
    private WebApplication? _observer;
    private int _observerPort;

    public ServiceProcess Ledger { get; private set; } = null!;

    public ServiceProcess? Balances { get; private set; }

    public ServiceProcess? Fraud { get; private set; }

    /// <summary>Every delivery of <c>ledger</c> to the observer, duplicates included (delivery is at least once).</summary>
    public ConcurrentQueue<JsonElement> LedgerDeliveries { get; } = new();

    /// <summary>When the observer first got each (account, sequence) of <c>ledger</c>, by the wall clock.</summary>
    public ConcurrentDictionary<(string AccountId, long Sequence), DateTimeOffset> FirstDelivered { get; } = new();

    /// <summary>Every delivery of <c>alerts</c> to the observer.</summary>
    public ConcurrentQueue<JsonElement> AlertDeliveries { get; } = new();

    /// <summary>CPU time used so far by each process of the platform (the sidecars and the observer live in this one).</summary>
    public IReadOnlyList<(string Name, TimeSpan Cpu)> CpuUsage() =>
    [
        ("ledger", Ledger.Cpu), ("balances", Balances?.Cpu ?? TimeSpan.Zero), ("redis", _redis.Cpu),
        ("this process (sidecars, observer, clients)", Process.GetCurrentProcess().TotalProcessorTime),
    ];

    /// <summary>The sidecar a client or a publisher talks to (the ledger's).</summary>
    public string SidecarEndpoint => _ledgerSidecar.HttpEndpoint;

    public static async Task<PlatformUnderTest> StartAsync(PlatformOptions options)
    {
        var platform = new PlatformUnderTest();
        try
        {
            await platform.InitAsync(options);
            return platform;
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client for <paramref name="appId"/>'s API, through the ledger's sidecar (/v1.0/invoke/{appId}/method/).</summary>
    public HttpClient Invoke(string appId)
    {
        lock (_clients)
        {
            if (!_clients.TryGetValue(appId, out var client))
            {
                client = new HttpClient { BaseAddress = new Uri($"{SidecarEndpoint}/v1.0/invoke/{appId}/method/"), Timeout = TimeSpan.FromSeconds(60) };
                _clients[appId] = client;
            }

            return client;
        }
    }

    /// <summary>How long a delivered entry stays pending before the broker hands it out again (the pub/sub component's <c>processingTimeout</c>).</summary>
    public static readonly TimeSpan ProcessingTimeout = TimeSpan.FromSeconds(2);

    private async Task InitAsync(PlatformOptions options)
    {
        _redis = await Redis.StartAsync();
        var components = Directory.CreateDirectory(Path.Combine(_root, "components")).FullName;
        await File.WriteAllTextAsync(Path.Combine(components, "statestore.yaml"), Component("statestore", "state.redis", """
                - name: actorStateStore
                  value: "true"
            """));
        // Short timeouts, so a delivery to a killed app comes back within a second or two; as components/redis, 100
        // deliveries in flight per subscriber, so that Balances' bulk deliveries can hold up to 100 events.
        await File.WriteAllTextAsync(Path.Combine(components, "pubsub.yaml"), Component("pubsub", "pubsub.redis", $$"""
                - name: processingTimeout
                  value: "{{(int)ProcessingTimeout.TotalSeconds}}s"
                - name: redeliverInterval
                  value: "500ms"
                - name: concurrency
                  value: "100"
            """));
        var registry = Path.Combine(_root, "registry"); // the first sidecar creates it, private (0700), as it must be

        _observerPort = Ports.Free();
        await StartObserverAsync();
        var observer = await StartSidecarAsync("observer", _observerPort, components, registry);

        var ledgerPort = Ports.Free();
        _ledgerSidecar = await StartSidecarAsync("ledger", ledgerPort, components, registry);
        Ledger = Own(DotnetService("ledger", "Ledger", "Platform.Ledger", ledgerPort, _ledgerSidecar, options.LedgerEnvironment));
        var started = new List<(ServiceProcess, Sidecar.SidecarHost)> { (Ledger, _ledgerSidecar) };

        if (options.Balances)
        {
            var port = Ports.Free();
            var sidecar = await StartSidecarAsync("balances", port, components, registry);
            Balances = Own(DotnetService("balances", "Balances", "Platform.Balances", port, sidecar));
            started.Add((Balances, sidecar));
        }

        if (options.Fraud)
        {
            var port = Ports.Free();
            var sidecar = await StartSidecarAsync("fraud", port, components, registry);
            Fraud = Own(await FraudServiceAsync(port, sidecar, options.FraudEnvironment));
            started.Add((Fraud, sidecar));
        }

        await Task.WhenAll(started.Select(s => s.Item1.StartAsync()));
        foreach (var (_, sidecar) in started)
        {
            await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(60));
        }

        await observer.Ready.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops the observer app (its sidecar stays, so deliveries to it queue up as for a crashed consumer).</summary>
    public async Task StopObserverAsync()
    {
        if (_observer is { } web)
        {
            _observer = null;
            await web.StopAsync();
            await web.DisposeAsync();
        }
    }

    /// <summary>Starts the observer app on its port (again).</summary>
    public async Task StartObserverAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_observerPort}");
        builder.Logging.ClearProviders();
        var web = builder.Build();
        web.MapGet("/dapr/subscribe", () => Results.Json(new[]
        {
            new { pubsubname = "pubsub", topic = "ledger", route = "/ledger" },
            new { pubsubname = "pubsub", topic = "alerts", route = "/alerts" },
        }));
        web.MapPost("/ledger", async (HttpRequest r) =>
        {
            var data = await DataOf(r);
            LedgerDeliveries.Enqueue(data);
            FirstDelivered.TryAdd((data.GetProperty("accountId").GetString()!, data.GetProperty("sequence").GetInt64()), DateTimeOffset.UtcNow);
            return Results.Ok();
        });
        web.MapPost("/alerts", async (HttpRequest r) =>
        {
            AlertDeliveries.Enqueue(await DataOf(r));
            return Results.Ok();
        });
        web.MapGet("/alive", () => Results.Ok());
        await web.StartAsync();
        _observer = web;

        static async Task<JsonElement> DataOf(HttpRequest r) =>
            (await JsonSerializer.DeserializeAsync<JsonElement>(r.Body)).GetProperty("data").Clone();
    }

    private async Task<Sidecar.SidecarHost> StartSidecarAsync(string appId, int appPort, string components, string registry)
    {
        var sidecar = await Sidecar.SidecarHost.StartAsync(new SidecarOptions { AppId = appId, AppPort = appPort, ResourcesPaths = [components], RegistryFolder = registry });
        _owned.Add(sidecar);
        return sidecar;
    }

    private T Own<T>(T disposable)
        where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static ServiceProcess DotnetService(string appId, string folder, string assembly, int port, Sidecar.SidecarHost sidecar,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var dll = Path.Combine(Repo.Root, "services", folder, "bin", Repo.Configuration, "net10.0", assembly + ".dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build it first (dotnet build services/{folder} -c {Repo.Configuration}; building this test project does it)");
        }

        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["DAPR_HTTP_ENDPOINT"] = sidecar.HttpEndpoint,
            ["DAPR_GRPC_ENDPOINT"] = sidecar.GrpcEndpoint,
            ["DAPR_HTTP_PORT"] = sidecar.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DAPR_GRPC_PORT"] = sidecar.GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["APP_ID"] = appId,
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return new ServiceProcess(appId, Repo.Dotnet, [dll], Path.GetDirectoryName(dll)!, port, environment);
    }

    private static async Task<ServiceProcess> FraudServiceAsync(int port, Sidecar.SidecarHost sidecar, IReadOnlyDictionary<string, string> settings)
    {
        var main = await Repo.FraudBuildAsync();
        var environment = new Dictionary<string, string>
        {
            ["APP_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DAPR_HOST"] = "127.0.0.1",
            ["DAPR_HTTP_PORT"] = sidecar.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return new ServiceProcess("fraud", "node", [main], Path.Combine(Repo.Root, "services", "fraud"), port, environment);
    }

    private string Component(string name, string type, string extra) => $"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: {type}
          version: v1
          metadata:
            - name: redisHost
              value: "{_redis.Host}"
        {extra}
        """;

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        // Apps first, then their sidecars, then Redis.
        await StopObserverAsync();
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>Where the repository and the services' build output are.</summary>
public static class Repo
{
    private static readonly Lazy<Task<string>> FraudBuild = new(BuildFraudAsync);

    public static string Root { get; } = FindRoot();

    /// <summary>The configuration this test assembly was built in (Debug, Release): the services were built in it too.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;

    public static string Dotnet { get; } =
        Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    /// <summary>services/fraud compiled (tsc), once per test run; its path to dist/main.js.</summary>
    public static Task<string> FraudBuildAsync() => FraudBuild.Value;

    private static async Task<string> BuildFraudAsync()
    {
        var folder = Path.Combine(Root, "services", "fraud");
        if (!Directory.Exists(Path.Combine(folder, "node_modules")))
        {
            throw new InvalidOperationException($"{folder}/node_modules is missing: run `npm ci` there (./test.sh does it)");
        }

        var build = Process.Start(new ProcessStartInfo("npm", "run build --silent") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = build.StandardOutput.ReadToEndAsync();
        var errors = build.StandardError.ReadToEndAsync();
        await build.WaitForExitAsync();
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"`npm run build` in {folder} failed:\n{await output}\n{await errors}");
        }

        return Path.Combine(folder, "dist", "main.js");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Platform.sln not found above " + AppContext.BaseDirectory);
    }
}
