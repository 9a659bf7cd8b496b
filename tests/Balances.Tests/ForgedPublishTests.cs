using Dapr;
using Grpc.Core;

namespace Platform.Balances.Tests;

/// <summary>
/// Only the ledger may publish on <c>ledger</c>: another app's sidecar publishing a well-formed <c>Deposited</c> at the
/// account's next sequence is refused by the real components/redis folder's topic scopes, so Balances never applies
/// it and the real event at that sequence is applied, not dropped as a duplicate.
/// </summary>
public sealed class ForgedPublishTests
{
    /// <summary>The repository's components/redis, as shipped, pointed at the test's redis-server.</summary>
    private static void RealRedisComponents(string folder, RedisServer? redis)
    {
        foreach (var file in Directory.GetFiles(folder))
        {
            File.Delete(file);
        }

        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot(), "components", "redis"), "*.yaml"))
        {
            File.WriteAllText(Path.Combine(folder, Path.GetFileName(file)), File.ReadAllText(file).Replace("localhost:6379", redis!.Host, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task PublishOnLedger_FromAnotherAppsSidecar_RefusedAndBalancesAgreeWithTheLedger()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.Redis, components: RealRedisComponents);
        await using var hello = await Platform.Sidecar.SidecarHost.StartAsync(new() { AppId = "hello", ResourcesPaths = [cluster.ComponentsDir], RegistryFolder = cluster.Registry });
        using var helloHttp = new HttpClient { BaseAddress = new Uri(hello.HttpEndpoint) };
        using var helloDapr = new DaprClientBuilder().UseHttpEndpoint(hello.HttpEndpoint).UseGrpcEndpoint(hello.GrpcEndpoint).Build();
        var stream = new StreamBuilder();
        await cluster.Ledger.PublishAllAsync([stream.Open("acc-1", "alice"), stream.Deposit("acc-1", 100.00m)]);
        await cluster.WaitForSequenceAsync("acc-1", 2);
        var before = await cluster.Redis!.Db.StreamLengthAsync("ledger");

        // A Deposited exactly as the ledger would write the next one, from Hello's sidecar: over HTTP and the SDK's gRPC.
        var forged = new LedgerRecord("Deposited", "acc-1", 3, 999999.00m, "forged-3", DateTimeOffset.UtcNow);
        var http = await helloHttp.PostAsync("/v1.0/publish/pubsub/ledger", JsonContent.Create(forged));
        var grpc = await Assert.ThrowsAsync<DaprException>(() => helloDapr.PublishEventAsync("pubsub", "ledger", forged));

        Assert.Equal(HttpStatusCode.Forbidden, http.StatusCode);
        var error = await http.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ERR_PUBSUB_FORBIDDEN", error.GetProperty("errorCode").GetString());
        Assert.Equal("topic ledger is not allowed for app id hello", error.GetProperty("message").GetString());
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(grpc.InnerException).StatusCode);
        Assert.Equal(before, await cluster.Redis.Db.StreamLengthAsync("ledger"));

        // The ledger's real event at that sequence is applied: Balances and the ledger agree.
        await cluster.Ledger.PublishAsync(stream.Deposit("acc-1", 50.00m));
        var account = await cluster.WaitForSequenceAsync("acc-1", 3);
        var expected = StreamBuilder.ExpectedFor(cluster.Ledger.All(), "acc-1");
        Assert.Equal(150.00m, expected.Balance);
        Assert.Equal(expected.Balance, account!.Balance);
        Assert.Equal(expected.LastSequence, account.LastSequence);
        var totals = await cluster.TotalsAsync();
        Assert.Equal(3, totals.EventsApplied);
        Assert.Equal(before + 1, await cluster.Redis.Db.StreamLengthAsync("ledger"));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("run the tests from inside the repository (Platform.sln not found above the test output)");
    }
}
