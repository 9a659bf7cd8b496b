using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Routing;
using Platform.Sidecar;
using Platform.Solver;

namespace Platform.Optimizer.Testing;

/// <summary>One Solver replica: the real app and its own sidecar, stoppable on its own.</summary>
public sealed class SolverReplica(string replicaId, WebApplication app, Sidecar.SidecarHost sidecar) : IAsyncDisposable
{
    private bool _stopped;

    public string ReplicaId { get; } = replicaId;

    public Sidecar.SidecarHost Sidecar { get; } = sidecar;

    /// <summary>
    /// As a crash would: the app's connections are aborted at once (in-flight sub-searches included, no draining),
    /// then its sidecar goes away.
    /// </summary>
    public async Task KillAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await app.StopAsync(new CancellationToken(canceled: true));
        await app.DisposeAsync();
        await Sidecar.DisposeAsync();
    }

    public ValueTask DisposeAsync() => new(KillAsync());
}

/// <summary>
/// The optimizer's whole path in one process: N Solver replicas (each app behind its own sidecar, with
/// app-max-concurrency), optionally Routing behind its sidecar, an observer subscribed to <c>routes</c> and
/// <c>solver-load</c>, and a client sidecar with no app through which calls come in as from another service. All on
/// the repository's own <c>components/local</c> (in-memory state and pub/sub, and the Resiliency that targets
/// <c>solver</c>), in a name registry of its own so nothing else sees these sidecars.
/// </summary>
public sealed class OptimizerCluster : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<SolverReplica> _solvers = [];
    private readonly string _root = Directory.CreateTempSubdirectory("optimizer-test-").FullName;
    private Sidecar.SidecarHost _client = null!;

    private OptimizerCluster()
    {
        Registry = Path.Combine(_root, "registry");
        Components = Path.Combine(RepositoryRoot(), "components", "local");
    }

    public string Registry { get; }

    public string Components { get; }

    public IReadOnlyList<SolverReplica> Solvers => _solvers;

    /// <summary><c>/v1.0/invoke/routing/method/</c> through the client sidecar.</summary>
    public HttpClient Routing { get; private set; } = null!;

    /// <summary><c>/v1.0/invoke/solver/method/</c> through the client sidecar.</summary>
    public HttpClient Solver { get; private set; } = null!;

    /// <summary>Every <c>routes</c> message delivered (the CloudEvent's data).</summary>
    public ConcurrentQueue<JsonElement> Routes { get; } = new();

    /// <summary>Every <c>solver-load</c> message delivered.</summary>
    public ConcurrentQueue<JsonElement> Loads { get; } = new();

    /// <param name="solvers">how many Solver replicas</param>
    /// <param name="solverMaxConcurrency">each replica's app-max-concurrency (-1: unlimited)</param>
    /// <param name="routing">whether to start Routing too</param>
    /// <param name="roundMs">Routing's round length</param>
    public static async Task<OptimizerCluster> StartAsync(int solvers, int solverMaxConcurrency = 1, bool routing = true, int roundMs = 250)
    {
        var cluster = new OptimizerCluster();
        try
        {
            await cluster.InitAsync(solvers, solverMaxConcurrency, routing, roundMs);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task InitAsync(int solvers, int solverMaxConcurrency, bool routing, int roundMs)
    {
        var observer = await StartObserverAsync();
        // The observer reads `routes` and `solver-load` as the Live leader does, under its app-id: components/local
        // lets only the topics' listed subscribers have them (protectedTopics, subscriptionScopes).
        await StartSidecarAsync("live-leader", observer, -1);
        for (var i = 1; i <= solvers; i++)
        {
            await AddSolverAsync($"solver-{i}", solverMaxConcurrency);
        }

        if (routing)
        {
            var port = FreePort();
            var sidecar = await StartSidecarAsync(RoutingNames.Service, port, -1);
            var app = RoutingApp.Build([.. AppArgs(port, sidecar), $"--Routing:RoundMs={roundMs}"]);
            await app.StartAsync();
            _owned.Add(app);
            await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
        }

        _client = await StartSidecarAsync("client", null, -1);
        Routing = new HttpClient { BaseAddress = new Uri($"{_client.HttpEndpoint}/v1.0/invoke/{RoutingNames.Service}/method/"), Timeout = TimeSpan.FromSeconds(60) };
        Solver = new HttpClient { BaseAddress = new Uri($"{_client.HttpEndpoint}/v1.0/invoke/{SolverNames.Service}/method/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task<SolverReplica> AddSolverAsync(string replicaId, int maxConcurrency)
    {
        var port = FreePort();
        var sidecar = await StartSidecarAsync(SolverNames.Service, port, maxConcurrency);
        var app = SolverApp.Build([.. AppArgs(port, sidecar), $"--Solver:ReplicaId={replicaId}"]);
        await app.StartAsync();
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
        var replica = new SolverReplica(replicaId, app, sidecar);
        _solvers.Add(replica);
        return replica;
    }

    private static string[] AppArgs(int port, Sidecar.SidecarHost sidecar) =>
    [
        $"--urls=http://127.0.0.1:{port}",
        $"--DAPR_HTTP_ENDPOINT={sidecar.HttpEndpoint}",
        $"--DAPR_GRPC_ENDPOINT={sidecar.GrpcEndpoint}",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Platform=Error",
    ];

    private async Task<Sidecar.SidecarHost> StartSidecarAsync(string appId, int? appPort, int maxConcurrency)
    {
        var sidecar = await Platform.Sidecar.SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = appId,
            AppPort = appPort,
            ResourcesPaths = [Components],
            RegistryFolder = Registry,
            AppMaxConcurrency = maxConcurrency,
        });
        _owned.Add(sidecar);
        if (appPort is null)
        {
            await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(30));
        }

        return sidecar;
    }

    private async Task<int> StartObserverAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var web = builder.Build();
        web.MapGet("/dapr/subscribe", () => Results.Json(new[]
        {
            new { pubsubname = RoutingNames.PubSub, topic = RoutingNames.RoutesTopic, route = "/routes" },
            new { pubsubname = SolverNames.PubSub, topic = SolverNames.LoadTopic, route = "/load" },
        }));
        web.MapPost("/routes", async (HttpRequest r) => Record(Routes, await JsonSerializer.DeserializeAsync<JsonElement>(r.Body)));
        web.MapPost("/load", async (HttpRequest r) => Record(Loads, await JsonSerializer.DeserializeAsync<JsonElement>(r.Body)));
        await web.StartAsync();
        _owned.Add(web);
        return new Uri(web.Urls.First()).Port;
    }

    private static IResult Record(ConcurrentQueue<JsonElement> into, JsonElement cloudEvent)
    {
        into.Enqueue(cloudEvent.GetProperty("data").Clone());
        return Results.Ok();
    }

    /// <summary>Where <c>Platform.sln</c> is: the components and the shipped instances are read from the repository itself.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Platform.sln not found above the test's folder: run from inside the repository");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Routing?.Dispose();
        Solver?.Dispose();
        foreach (var solver in _solvers)
        {
            await solver.DisposeAsync();
        }

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
}

public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(25);
        }
    }

    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }
}
