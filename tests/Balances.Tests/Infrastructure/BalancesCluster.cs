using Platform.Balances.Accounts;
using Platform.Balances.ReadModel;
using Platform.Balances.Totals;

namespace Platform.Balances.Tests.Infrastructure;

/// <summary>Which components a test runs on.</summary>
public enum Backend
{
    InMemory,
    Redis,
}

/// <summary>
/// One test's world: its own components folder and name registry (so no test sees another's sidecars or
/// in-memory bus), its own redis-server when on Redis, the fake ledger, Balances replicas, and a client sidecar
/// through which the test queries Balances by invocation, as another service would.
/// </summary>
public sealed class BalancesCluster : IAsyncDisposable
{
    private readonly string _root;
    private readonly List<BalancesReplica> _replicas = [];
    private Platform.Sidecar.SidecarHost? _client;

    private BalancesCluster(Backend backend, RedisServer? redis)
    {
        Backend = backend;
        Redis = redis;
        _root = Directory.CreateTempSubdirectory("balances-test-").FullName;
        Registry = Path.Combine(_root, "registry");
        ComponentsDir = Directory.CreateDirectory(Path.Combine(_root, "components")).FullName;
        File.WriteAllText(Path.Combine(ComponentsDir, "statestore.yaml"), redis is null
            ? Component("statestore", "state.in-memory")
            : Component("statestore", "state.redis", ("redisHost", redis.Host)));
        File.WriteAllText(Path.Combine(ComponentsDir, "pubsub.yaml"), redis is null
            ? Component("pubsub", "pubsub.in-memory")
            : Component("pubsub", "pubsub.redis", ("redisHost", redis.Host), ("processingTimeout", "1s"), ("redeliverInterval", "200ms")));
        Ledger = new FakeLedger(ComponentsDir, Registry);
    }

    public Backend Backend { get; }

    public RedisServer? Redis { get; }

    public string Registry { get; }

    public string ComponentsDir { get; }

    public FakeLedger Ledger { get; }

    public IReadOnlyList<BalancesReplica> Replicas => _replicas;

    public BalancesReplica Balances => _replicas[0];

    /// <summary>A DaprClient of a sidecar that has no app: publishes when the ledger is down.</summary>
    public DaprClient Client { get; private set; } = null!;

    /// <param name="components">rewrites the components folder before any sidecar starts (given the folder and the Redis server, if any)</param>
    public static async Task<BalancesCluster> StartAsync(Backend backend, int replicas = 1, Action<string, RedisServer?>? components = null)
    {
        var cluster = new BalancesCluster(backend, backend == Backend.Redis ? await RedisServer.StartAsync() : null);
        try
        {
            components?.Invoke(cluster.ComponentsDir, cluster.Redis);
            await cluster.Ledger.StartAsync();
            cluster._client = await Platform.Sidecar.SidecarHost.StartAsync(new() { AppId = "tests", ResourcesPaths = [cluster.ComponentsDir], RegistryFolder = cluster.Registry });
            cluster.Client = new DaprClientBuilder().UseHttpEndpoint(cluster._client.HttpEndpoint).UseGrpcEndpoint(cluster._client.GrpcEndpoint).Build();
            for (var i = 0; i < replicas; i++)
            {
                await cluster.AddReplicaAsync();
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Another replica of <paramref name="appId"/> (another app-id is another consumer group and another read model).</summary>
    public async Task<BalancesReplica> AddReplicaAsync(string appId = "balances")
    {
        var replica = await BalancesReplica.StartAsync(appId, ComponentsDir, Registry);
        _replicas.Add(replica);
        return replica;
    }

    /// <summary>Calls Balances through the sidecars (<c>/v1.0/invoke/{appId}/method/...</c>), as another service would.</summary>
    public HttpClient Api(string appId = "balances") => DaprClient.CreateInvokeHttpClient(appId, _client!.HttpEndpoint);

    public async Task<AccountDoc?> BalanceAsync(string accountId, string appId = "balances")
    {
        using var api = Api(appId);
        using var response = await api.GetAsync($"/accounts/{accountId}/balance");
        return response.StatusCode == System.Net.HttpStatusCode.NotFound ? null : await Read<AccountDoc>(response);
    }

    public async Task<Statement> StatementAsync(string accountId, int page, int pageSize, string appId = "balances")
    {
        using var api = Api(appId);
        using var response = await api.GetAsync($"/accounts/{accountId}/statement?page={page}&pageSize={pageSize}");
        return await Read<Statement>(response);
    }

    public async Task<Totals.Totals> TotalsAsync(string appId = "balances")
    {
        using var api = Api(appId);
        using var response = await api.GetAsync("/totals");
        return await Read<Totals.Totals>(response);
    }

    /// <summary>Waits until the read model of <paramref name="appId"/> has applied (or taken the sequence of) <paramref name="count"/> events.</summary>
    public Task<Totals.Totals> WaitForEventsAsync(long count, string appId = "balances") =>
        Poll.UntilAsync(() => TotalsAsync(appId), t => t.EventsApplied + t.EventsIgnored >= count, $"{appId} to take {count} events");

    public Task<AccountDoc?> WaitForSequenceAsync(string accountId, long sequence, string appId = "balances") =>
        Poll.UntilAsync(() => BalanceAsync(accountId, appId), a => a?.LastSequence >= sequence, $"{accountId} to reach sequence {sequence}");

    /// <summary>
    /// Every document of one generation of a replica's read model, keyed without the generation. On Redis that is
    /// every key under it in the server (so a stray document would show); in memory, every key the layout defines
    /// for the accounts the ledger knows.
    /// </summary>
    public async Task<SortedDictionary<string, string>> SnapshotAsync(BalancesReplica replica, int generation)
    {
        var prefix = $"g{generation}|";
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (Redis is not null)
        {
            var appPrefix = $"{replica.Sidecar.AppId}||{prefix}";
            foreach (var (key, data) in await Redis.ReadStateAsync($"{appPrefix}*"))
            {
                result[key[appPrefix.Length..]] = data;
            }

            return result;
        }

        var keys = new List<string>();
        foreach (var id in Ledger.All().Select(e => e.AccountId).Distinct())
        {
            keys.Add(Keys.Account(generation, id));
            var account = await replica.Dapr.GetStateAsync<AccountDoc?>("statestore", Keys.Account(generation, id));
            var pages = account is null || account.StatementLines == 0 ? 0 : Keys.PageOf(account.StatementLines - 1);
            keys.AddRange(Enumerable.Range(1, pages + 1).Select(p => Keys.Statement(generation, id, p)));
        }

        keys.AddRange(Enumerable.Range(0, Keys.TotalsShards).Select(s => Keys.Totals(generation, s)));
        foreach (var key in keys)
        {
            var (value, _) = await replica.Dapr.GetStateAndETagAsync<JsonElement?>("statestore", key);
            if (value is { } json)
            {
                result[key[prefix.Length..]] = json.GetRawText();
            }
        }

        return result;
    }

    private static async Task<T> Read<T>(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}", null, response.StatusCode);
        }

        return (await response.Content.ReadFromJsonAsync<T>(JsonSerializerOptions.Web))!;
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
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        await Ledger.DisposeAsync();
        Client?.Dispose();
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
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
