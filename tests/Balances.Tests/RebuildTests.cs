using Platform.Balances.Rebuild;

namespace Platform.Balances.Tests;

/// <summary>POST /rebuild: the read model recomputed from the ledger must be the one the stream built, document for document.</summary>
public sealed class RebuildTests
{
    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Rebuild_AfterIncrementalBuild_WritesIdenticalDocuments(Backend backend)
    {
        await using var cluster = await BalancesCluster.StartAsync(backend);
        var stream = StreamBuilder.Mixed("rb", accounts: 5, eventsPerAccount: 30);
        for (var i = 0; i < 55; i++)
        {
            stream.Withdraw("rb-2", 0.01m);
        }

        stream.Unknown("rb-3", "InterestAccrued");
        await cluster.Ledger.PublishAllAsync(stream.Events);
        var incremental = await cluster.WaitForEventsAsync(stream.Events.Count);
        var before = await cluster.SnapshotAsync(cluster.Balances, generation: 1);

        var result = await RebuildAsync(cluster);

        Assert.Equal(new RebuildResult(2, 1, 5, stream.Events.Count), result);
        var after = await cluster.SnapshotAsync(cluster.Balances, generation: 2);
        Assert.True(before.Count > 5 + 5 + 1, $"a model with accounts, statement pages and totals shards (saw {before.Count} documents)");
        Assert.Equal(before.Keys, after.Keys);
        foreach (var (key, document) in before)
        {
            Assert.True(document == after[key], $"{key} differs:\n incremental {document}\n rebuilt     {after[key]}");
        }

        Assert.Empty(await cluster.SnapshotAsync(cluster.Balances, generation: 1));
        var rebuilt = await cluster.TotalsAsync();
        Assert.Equal(incremental with { Generation = 2 }, rebuilt);
    }

    [Fact]
    public async Task Rebuild_WhileEventsKeepArriving_EndsIdenticalToAnIncrementalReplica()
    {
        // "balances-mirror" is another app-id: its own consumer group gets every event and builds incrementally, never rebuilt.
        await using var cluster = await BalancesCluster.StartAsync(Backend.Redis);
        var mirror = await cluster.AddReplicaAsync("balances-mirror");
        var stream = StreamBuilder.Mixed("live", accounts: 4, eventsPerAccount: 20);
        stream.Open("slow", "held-up");
        stream.Deposit("slow", 1.00m);
        await cluster.Ledger.PublishAllAsync(stream.Events);
        await cluster.WaitForEventsAsync(stream.Events.Count);

        // Keep the rebuild in progress: it has read live-1..4 from the ledger, and its read of "slow" does not answer.
        var hold = cluster.Ledger.HoldEventsOf("slow");
        cluster.Ledger.EventReads.Clear();   // gap healing during the build above may have read these already
        var rebuild = RebuildAsync(cluster);
        await Poll.UntilAsync(() => new[] { "live-1@1", "live-2@1", "live-3@1", "live-4@1", "slow@1" }.All(cluster.Ledger.EventReads.Contains), "the rebuild to read every account");
        Assert.Equal(2, (await cluster.TotalsAsync()).Rebuilding);
        using (var api = cluster.Api())
        {
            using var second = await api.PostAsync("/rebuild", null);
            Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        }

        // These events come after the rebuild read those accounts: only the deliveries themselves can bring them into the new generation.
        var published = stream.Events.Count;
        for (var i = 0; i < 10; i++)
        {
            stream.Deposit($"live-{(i % 4) + 1}", 3.00m + i);
            stream.Transfer($"live-{(i % 4) + 1}", $"live-{((i + 1) % 4) + 1}", 1.50m);
        }

        stream.Open("live-new", "newcomer");
        stream.Deposit("live-new", 9.99m);
        await cluster.Ledger.PublishAllAsync(stream.Events.Skip(published));
        published = stream.Events.Count;
        var during = await cluster.WaitForEventsAsync(published);
        Assert.Equal((1, (int?)2), (during.Generation, during.Rebuilding));

        // Let the rebuild finish while more events arrive around the switch-over.
        hold.SetResult();
        for (var i = 0; i < 20; i++)
        {
            stream.Withdraw($"live-{(i % 4) + 1}", 0.25m);
        }

        stream.Deposit("slow", 0.01m);
        await Task.WhenAll(rebuild, cluster.Ledger.PublishAllAsync(stream.Events.Skip(published)));
        Assert.Equal(2, (await rebuild).Generation);

        var totals = await cluster.WaitForEventsAsync(stream.Events.Count);
        await cluster.WaitForEventsAsync(stream.Events.Count, "balances-mirror");
        Assert.Equal((2, (int?)null), (totals.Generation, totals.Rebuilding));
        var rebuilt = await cluster.SnapshotAsync(cluster.Balances, generation: 2);
        var incremental = await cluster.SnapshotAsync(mirror, generation: 1);
        Assert.Equal(incremental.Keys, rebuilt.Keys);
        foreach (var (key, document) in incremental)
        {
            Assert.True(document == rebuilt[key], $"{key} differs:\n incremental {document}\n rebuilt     {rebuilt[key]}");
        }

        foreach (var id in stream.Events.Select(e => e.AccountId).Distinct())
        {
            Assert.Equal(StreamBuilder.ExpectedFor(stream.Events, id).Balance, (await cluster.BalanceAsync(id))!.Balance);
        }
    }

    [Fact]
    public async Task Rebuild_LedgerDown_Returns503AndKeepsServingTheLiveModel()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        var stream = StreamBuilder.Mixed("keep", accounts: 2, eventsPerAccount: 5);
        await cluster.Ledger.PublishAllAsync(stream.Events);
        var before = await cluster.WaitForEventsAsync(stream.Events.Count);
        await cluster.Ledger.StopAsync();

        using var api = cluster.Api();
        using var response = await api.PostAsync("/rebuild", null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await cluster.TotalsAsync());
        Assert.Equal(StreamBuilder.ExpectedFor(stream.Events, "keep-1").Balance, (await cluster.BalanceAsync("keep-1"))!.Balance);
    }

    private static async Task<RebuildResult> RebuildAsync(BalancesCluster cluster)
    {
        using var api = cluster.Api();
        using var response = await api.PostAsync("/rebuild", null);
        Assert.True(response.IsSuccessStatusCode, $"POST /rebuild answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<RebuildResult>(JsonSerializerOptions.Web))!;
    }
}
