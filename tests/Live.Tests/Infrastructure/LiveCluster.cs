using System.Net;
using System.Net.Sockets;
using Dapr.Client;
using Platform.Live.Views;

namespace Platform.Live.Tests.Infrastructure;

/// <summary>
/// One test's world: its own components folder and name registry (so no test sees another's sidecars or in-memory
/// bus), a leader, followers that can be stopped one by one, and a sidecar without an app through which the test
/// publishes the upstream streams (ledger, alerts, routes, solver-load) as the other services would.
/// </summary>
public sealed class LiveCluster : IAsyncDisposable
{
    private readonly string _root;
    private readonly List<LiveReplica> _replicas = [];
    private readonly List<IAsyncDisposable> _others = [];
    private int _followers;

    private LiveCluster()
    {
        _root = Directory.CreateTempSubdirectory("live-test-").FullName;
        Registry = Path.Combine(_root, "registry");
        ComponentsDir = Directory.CreateDirectory(Path.Combine(_root, "components")).FullName;
        File.WriteAllText(Path.Combine(ComponentsDir, "statestore.yaml"), Component("statestore", "state.in-memory"));
        File.WriteAllText(Path.Combine(ComponentsDir, "pubsub.yaml"), Component("pubsub", "pubsub.in-memory"));
        // As components/local/views-broadcast.yaml: a consumer group per follower start.
        File.WriteAllText(Path.Combine(ComponentsDir, "views-broadcast.yaml"), Component("views-broadcast", "pubsub.in-memory", ("consumerID", "{uuid}")));
    }

    public string Registry { get; }

    public string ComponentsDir { get; }

    public LiveReplica Leader { get; private set; } = null!;

    /// <summary>Publishes as the upstream services would.</summary>
    public DaprClient Upstream { get; private set; } = null!;

    public static async Task<LiveCluster> StartAsync(int followers, params (string Key, string Value)[] followerSettings)
    {
        var cluster = new LiveCluster();
        try
        {
            var upstream = await Platform.Sidecar.SidecarHost.StartAsync(new() { AppId = "upstream", ResourcesPaths = [cluster.ComponentsDir], RegistryFolder = cluster.Registry });
            cluster._others.Add(upstream);
            cluster.Upstream = new DaprClientBuilder().UseHttpEndpoint(upstream.HttpEndpoint).UseGrpcEndpoint(upstream.GrpcEndpoint).Build();
            cluster.Leader = await cluster.StartReplicaAsync(Components.LeaderAppId, "live-leader-1", [("Live:Role", "leader"), ("Live:SaveInterval", "00:00:00.200")]);
            for (var i = 0; i < followers; i++)
            {
                await cluster.AddFollowerAsync(followerSettings);
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public IEnumerable<LiveReplica> Followers => _replicas.Where(r => r.AppId == "live");

    /// <summary>A new follower; returns once it has its first snapshot from the leader.</summary>
    public async Task<LiveReplica> AddFollowerAsync(params (string Key, string Value)[] settings)
    {
        var follower = await StartReplicaAsync("live", $"live-{++_followers}", [("Live:Role", "follower"), .. settings]);
        await Poll.UntilAsync(follower.MirrorAsync, m => m.Ready, $"{follower.Name} to load the leader's snapshot");
        return follower;
    }

    private async Task<LiveReplica> StartReplicaAsync(string appId, string name, (string Key, string Value)[] settings)
    {
        var replica = await LiveReplica.StartAsync(appId, name, ComponentsDir, Registry, settings);
        _replicas.Add(replica);
        return replica;
    }

    /// <summary>Stops one replica (app and sidecar), as a pod going away.</summary>
    public async Task StopAsync(LiveReplica replica)
    {
        _replicas.Remove(replica);
        await replica.DisposeAsync();
    }

    /// <summary>An app-less extra app on its own sidecar (a fake ledger, say).</summary>
    public void Own(IAsyncDisposable thing) => _others.Add(thing);

    public Task PublishAsync<T>(string topic, T data) => Upstream.PublishEventAsync(Components.PubSub, topic, data);

    public Task OpenAsync(string accountId, string owner, long sequence = 1) => PublishAsync(Components.LedgerTopic,
        new { kind = "AccountOpened", accountId, sequence, amount = (decimal?)null, reference = $"open-{accountId}", occurredAt = DateTimeOffset.UtcNow, owner });

    public Task DepositAsync(string accountId, long sequence, decimal amount) => PublishAsync(Components.LedgerTopic,
        new { kind = "Deposited", accountId, sequence, amount, reference = $"d-{accountId}-{sequence}", occurredAt = DateTimeOffset.UtcNow });

    public Task LoadAsync(string replicaId, double cpu) => PublishAsync(Components.SolverLoadTopic,
        new { replicaId, cpu, movesPerSecond = cpu * 1e6, inFlight = 1, at = DateTimeOffset.UtcNow });

    /// <summary>The leader's current sequence number.</summary>
    public async Task<long> LeaderSeqAsync() => (await Leader.SnapshotAsync()).Seq;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Component(string name, string type, params (string Name, string Value)[] metadata) =>
        $"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: {type}
          version: v1
          metadata:{(metadata.Length == 0 ? " []" : "")}
        {string.Concat(metadata.Select(m => $"    - name: {m.Name}\n      value: \"{m.Value}\"\n"))}
        """;

    public async ValueTask DisposeAsync()
    {
        for (var i = _replicas.Count - 1; i >= 0; i--)
        {
            await _replicas[i].DisposeAsync();
        }

        Upstream?.Dispose();
        for (var i = _others.Count - 1; i >= 0; i--)
        {
            await _others[i].DisposeAsync();
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
