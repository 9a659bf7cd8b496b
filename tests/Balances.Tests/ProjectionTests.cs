namespace Platform.Balances.Tests;

/// <summary>The ledger stream in: balances, statements and totals, idempotence, gaps, and the ledger being away.</summary>
public sealed class ProjectionTests
{
    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ApplyStream_MixedKindsOverSeveralAccounts_GivesBalancesStatementsAndTotals(Backend backend)
    {
        await using var cluster = await BalancesCluster.StartAsync(backend);
        var stream = StreamBuilder.Mixed("acc", accounts: 4, eventsPerAccount: 30);
        // One account with enough lines to span two storage pages of 50, and an event of a kind this reader does not know.
        for (var i = 0; i < 60; i++)
        {
            stream.Deposit("acc-1", 1.25m);
        }

        stream.Unknown("acc-2", "InterestAccrued");
        stream.Deposit("acc-2", 0.10m);

        await cluster.Ledger.PublishAllAsync(stream.Events);
        var totals = await cluster.WaitForEventsAsync(stream.Events.Count);

        var ids = stream.Events.Select(e => e.AccountId).Distinct().ToList();
        foreach (var id in ids)
        {
            var expected = StreamBuilder.ExpectedFor(stream.Events, id);
            var account = await cluster.BalanceAsync(id);
            Assert.NotNull(account);
            Assert.Equal(expected.Balance, account.Balance);
            Assert.Equal(expected.LastSequence, account.LastSequence);
            Assert.Equal($"owner-of-{id}", account.Owner);
            Assert.Equal(stream.Events.First(e => e.AccountId == id).OccurredAt, account.OpenedAt);
            Assert.Equal(stream.Events.Last(e => e.AccountId == id).OccurredAt, account.UpdatedAt);

            var lines = new List<(long, string, decimal, decimal)>();
            for (var page = 1; ; page++)
            {
                var statement = await cluster.StatementAsync(id, page, pageSize: 7);
                Assert.Equal(expected.Lines.Count, statement.TotalLines);
                lines.AddRange(statement.Lines.Select(l => (l.Sequence, l.Kind, l.Amount, l.BalanceAfter)));
                if (page >= statement.TotalPages)
                {
                    break;
                }
            }

            Assert.Equal(expected.Lines, lines);
        }

        var transfer = (await cluster.StatementAsync("acc-1", 1, 100)).Lines.FirstOrDefault(l => l.Kind == "TransferDebited");
        Assert.True(transfer is null || transfer.CounterpartyId is { Length: > 0 }, "a transfer line names the other account");

        Assert.Equal(ids.Count, totals.Accounts);
        Assert.Equal(ids.Sum(id => StreamBuilder.ExpectedFor(stream.Events, id).Balance), totals.TotalBalance);
        Assert.Equal(stream.Events.Count(StreamBuilder.MovesMoney), totals.EventsApplied);
        Assert.Equal(1, totals.EventsIgnored);
    }

    [Fact]
    public async Task Deliver_SameEventSeveralTimes_AppliedOnce()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        var s = new StreamBuilder();
        var opened = s.Open("dup-1", "ann");
        var deposit = s.Deposit("dup-1", 10.00m);
        var later = s.Deposit("dup-1", 5.00m);

        await cluster.Ledger.PublishAsync(opened);
        await cluster.Ledger.PublishAsync(deposit);
        await cluster.Ledger.PublishAsync(deposit);
        await cluster.Ledger.PublishAsync(deposit);
        await cluster.Ledger.PublishAsync(later);
        await cluster.Ledger.PublishAsync(opened);

        // All six deliveries answered SUCCESS (duplicates included), and nothing was applied twice.
        await Poll.UntilAsync(() => cluster.Balances.Meter.Deliveries("SUCCESS") == 6, "six deliveries answered");
        var account = await cluster.BalanceAsync("dup-1");
        Assert.Equal(15.00m, account!.Balance);
        Assert.Equal(3, account.LastSequence);
        Assert.Equal(3, account.StatementLines);
        Assert.Equal([1L, 2L, 3L], (await cluster.StatementAsync("dup-1", 1, 20)).Lines.Select(l => l.Sequence));
        Assert.True(cluster.Balances.Meter.Count("balances.events.duplicate") >= 3, "the three redundant copies were recognised as duplicates");
        Assert.Equal(3, (await cluster.TotalsAsync()).EventsApplied);
    }

    [Fact]
    public async Task Deliver_SequenceMissingFromStream_HealedFromLedgerInOrder()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        var s = new StreamBuilder();
        var e1 = s.Open("gap-1", "bob");
        var e2 = s.Deposit("gap-1", 100.00m);
        var e3 = s.Withdraw("gap-1", 30.00m);
        var e4 = s.Deposit("gap-1", 0.50m);

        await cluster.Ledger.PublishAsync(e1);
        await cluster.Ledger.PublishAsync(e2);
        await cluster.WaitForSequenceAsync("gap-1", 2);
        cluster.Ledger.Append(e3);            // in the ledger's log, but its publish was lost
        await cluster.Ledger.PublishAsync(e4);

        var account = await cluster.WaitForSequenceAsync("gap-1", 4);
        Assert.Equal(70.50m, account!.Balance);
        Assert.Contains("gap-1@3", cluster.Ledger.EventReads);
        var statement = await cluster.StatementAsync("gap-1", 1, 20);
        Assert.Equal(
            [(1L, "AccountOpened", 0.00m, 0.00m), (2L, "Deposited", 100.00m, 100.00m), (3L, "Withdrawn", -30.00m, 70.00m), (4L, "Deposited", 0.50m, 70.50m)],
            statement.Lines.Select(l => (l.Sequence, l.Kind, l.Amount, l.BalanceAfter)));
        Assert.Equal(e3.Reference, statement.Lines[2].Reference);
    }

    [Fact]
    public async Task Deliver_GapWhileLedgerDown_RetriesThenHealsWhenLedgerIsBack()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        var s = new StreamBuilder();
        var e1 = s.Open("down-1", "cy");
        var e2 = s.Deposit("down-1", 40.00m);
        var e3 = s.Deposit("down-1", 2.00m);
        var e4 = s.Withdraw("down-1", 12.00m);
        await cluster.Ledger.PublishAsync(e1);
        await cluster.Ledger.PublishAsync(e2);
        await cluster.WaitForSequenceAsync("down-1", 2);

        cluster.Ledger.Append(e3);
        await cluster.Ledger.StopAsync();
        await cluster.Ledger.PublishAsync(e4, via: cluster.Client);

        // Seq 4 cannot be applied before 3, and 3 is only in the unreachable ledger: RETRY, again and again, nothing applied.
        await Poll.UntilAsync(() => cluster.Balances.Meter.Deliveries("RETRY") >= 2, "Balances to answer RETRY while the ledger is down");
        Assert.Equal(2, (await cluster.BalanceAsync("down-1"))!.LastSequence);
        Assert.Equal(0, cluster.Balances.Meter.Deliveries("DROP"));

        await cluster.Ledger.StartAsync();
        var account = await cluster.WaitForSequenceAsync("down-1", 4);
        Assert.Equal(30.00m, account!.Balance);
        Assert.Equal([1L, 2L, 3L, 4L], (await cluster.StatementAsync("down-1", 1, 20)).Lines.Select(l => l.Sequence));
    }

    [Fact]
    public async Task Deliver_EventWithoutAccountOrSequence_IsDroppedAndChangesNothing()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        await cluster.Client.PublishEventAsync("pubsub", "ledger", new { kind = "Deposited", amount = 5 });
        await cluster.Client.PublishEventAsync("pubsub", "ledger", new { kind = "Deposited", accountId = "x", sequence = 0, amount = 5 });

        await Poll.UntilAsync(() => cluster.Balances.Meter.Deliveries("DROP") == 2, "two malformed events to be dropped");
        var totals = await cluster.TotalsAsync();
        Assert.Equal(0, totals.Accounts);
        Assert.Equal(0, totals.EventsApplied + totals.EventsIgnored);
    }
}
