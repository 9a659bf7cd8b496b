namespace Platform.Balances.Tests;

/// <summary>Replicas of one app-id share a consumer group: they split the stream and race on the same documents.</summary>
public sealed class CompetingConsumersTests
{
    [Fact]
    public async Task TwoReplicas_ConsumingOneStreamOnRedis_EndWithCorrectBalances()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.Redis, replicas: 2);
        // Few accounts and many events: the replicas keep writing the same account and totals-shard documents.
        var stream = StreamBuilder.Mixed("cc", accounts: 3, eventsPerAccount: 70, seed: 11);
        await cluster.Ledger.PublishAllAsync(stream.Events);

        var totals = await cluster.WaitForEventsAsync(stream.Events.Count);

        Assert.All(cluster.Replicas, r => Assert.True(r.Meter.Deliveries("SUCCESS") > 0, "every replica took part of the stream"));
        Assert.Equal(stream.Events.Count, cluster.Replicas.Sum(r => r.Meter.Count("balances.events.applied")));
        foreach (var id in stream.Events.Select(e => e.AccountId).Distinct())
        {
            var expected = StreamBuilder.ExpectedFor(stream.Events, id);
            var account = await cluster.BalanceAsync(id);
            Assert.Equal((expected.Balance, expected.LastSequence, expected.Lines.Count), (account!.Balance, account.LastSequence, account.StatementLines));
            var lines = (await cluster.StatementAsync(id, 1, 100)).Lines.Concat((await cluster.StatementAsync(id, 2, 100)).Lines);
            Assert.Equal(expected.Lines, lines.Select(l => (l.Sequence, l.Kind, l.Amount, l.BalanceAfter)));
        }

        Assert.Equal(3, totals.Accounts);
        Assert.Equal(stream.Events.Count, totals.EventsApplied);
        Assert.Equal(stream.Events.Select(e => e.AccountId).Distinct().Sum(id => StreamBuilder.ExpectedFor(stream.Events, id).Balance), totals.TotalBalance);
    }
}
