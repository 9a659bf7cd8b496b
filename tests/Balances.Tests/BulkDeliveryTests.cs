using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Platform.Balances.Tests;

/// <summary>
/// Bulk subscribe: Balances asks for the ledger stream in bulk, and answers each entry of a delivery on its own:
/// the events that follow on are applied together, copies are duplicates, a gap is healed from the ledger, an event
/// the ledger does not have yet is RETRY, and what can never apply is DROP.
/// </summary>
public sealed class BulkDeliveryTests
{
    [Fact]
    public async Task Subscription_AsksForTheLedgerStreamInBulk()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        var subscriptions = await cluster.Api().GetFromJsonAsync<JsonElement>("dapr/subscribe");
        var ledger = subscriptions.EnumerateArray().Single(s => s.GetProperty("topic").GetString() == "ledger");
        var bulk = ledger.GetProperty("bulkSubscribe");
        Assert.True(bulk.GetProperty("enabled").GetBoolean());
        Assert.Equal(100, bulk.GetProperty("maxMessagesCount").GetInt32());
        Assert.Equal(10, bulk.GetProperty("maxAwaitDurationMs").GetInt32());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task OneDelivery_MixedEntries_AnsweredPerEntryAndAppliedOnce(Backend backend)
    {
        await using var cluster = await BalancesCluster.StartAsync(backend);
        var s = new StreamBuilder();
        var aOpened = s.Open("bulk-a", "ann");
        var aDeposit = s.Deposit("bulk-a", 10.00m);
        var aWithdraw = s.Withdraw("bulk-a", 2.50m);
        var bOpened = s.Open("bulk-b", "bob");
        var bDeposit = s.Deposit("bulk-b", 7.00m);
        var cOpened = s.Open("bulk-c", "cy");
        var cDeposit = s.Deposit("bulk-c", 1.00m);
        cluster.Ledger.Append(bOpened); // in the ledger, never delivered: a gap to heal
        cluster.Ledger.Append(aOpened);
        cluster.Ledger.Append(aDeposit);
        cluster.Ledger.Append(aWithdraw);
        cluster.Ledger.Append(bDeposit);
        // bulk-c's events are not in the ledger yet: its sequence 2 cannot be applied (1 is missing everywhere).

        var answer = await DeliverAsync(cluster,
            ("e1", Event(aWithdraw)), ("e2", Event(aOpened)), ("e3", Event(aDeposit)), ("e4", Event(aDeposit)),
            ("e5", Event(bDeposit)), ("e6", Event(cDeposit)), ("e7", """{"data":{"kind":"Deposited"}}"""));

        Assert.Equal(
            new Dictionary<string, string> { ["e1"] = "SUCCESS", ["e2"] = "SUCCESS", ["e3"] = "SUCCESS", ["e4"] = "SUCCESS", ["e5"] = "SUCCESS", ["e6"] = "RETRY", ["e7"] = "DROP" },
            answer);
        var a = await cluster.BalanceAsync("bulk-a");
        Assert.Equal((7.50m, 3L, 3), (a!.Balance, a.LastSequence, a.StatementLines));
        Assert.Equal([1L, 2L, 3L], (await cluster.StatementAsync("bulk-a", 1, 20)).Lines.Select(l => l.Sequence));
        var b = await cluster.BalanceAsync("bulk-b");
        Assert.Equal((7.00m, 2L, "bob"), (b!.Balance, b.LastSequence, b.Owner));
        Assert.Contains("bulk-b@1", cluster.Ledger.EventReads);
        Assert.Null(await cluster.BalanceAsync("bulk-c"));
        var totals = await cluster.TotalsAsync();
        Assert.Equal((2L, 14.50m, 5L), (totals.Accounts, totals.TotalBalance, totals.EventsApplied));

        // The same delivery again, once bulk-c's first event is in the ledger: only duplicates, and bulk-c's gap healed.
        cluster.Ledger.Append(cOpened);
        cluster.Ledger.Append(cDeposit);
        var again = await DeliverAsync(cluster, ("f1", Event(aWithdraw)), ("f2", Event(bDeposit)), ("f3", Event(cDeposit)));
        Assert.All(again.Values, status => Assert.Equal("SUCCESS", status));
        totals = await cluster.TotalsAsync();
        Assert.Equal((3L, 15.50m, 7L), (totals.Accounts, totals.TotalBalance, totals.EventsApplied));
    }

    [Fact]
    public async Task Redis_AccountWrittenByAnotherReplicaMeanwhile_NextDeliveryFindsItsRealStatementPage()
    {
        // Replica 0 sees the account at 2 lines and would guess page 1 for its next lines; replica 1 takes it to 60
        // lines (page 2) meanwhile. Replica 0's next delivery must read page 2 and add to it, never overwrite it.
        await using var cluster = await BalancesCluster.StartAsync(Backend.Redis, replicas: 2);
        var s = new StreamBuilder();
        var events = new List<LedgerRecord> { s.Open("pages-1", "pat") };
        for (var i = 0; i < 60; i++)
        {
            events.Add(s.Deposit("pages-1", 1.00m));
        }

        var first = await DeliverAsync(cluster.Replicas[0], [.. events.Take(2).Select((e, i) => ($"a{i}", Event(e)))]);
        var second = await DeliverAsync(cluster.Replicas[1], [.. events.Skip(2).Take(58).Select((e, i) => ($"b{i}", Event(e)))]);
        var third = await DeliverAsync(cluster.Replicas[0], ("c0", Event(events[60])));

        Assert.All(first.Values.Concat(second.Values).Concat(third.Values), status => Assert.Equal("SUCCESS", status));
        var account = await cluster.BalanceAsync("pages-1");
        Assert.Equal((60.00m, 61L, 61), (account!.Balance, account.LastSequence, account.StatementLines));
        var lines = (await cluster.StatementAsync("pages-1", 1, 100)).Lines;
        Assert.Equal(Enumerable.Range(1, 61).Select(i => (long)i), lines.Select(l => l.Sequence));
        Assert.Equal(60.00m, lines[^1].BalanceAfter);
        Assert.Equal(0, cluster.Replicas[0].Meter.Count("balances.etag.conflicts")); // it read the right page, it did not lose a race
    }

    private static string Event(LedgerRecord e) =>
        JsonSerializer.Serialize(new { specversion = "1.0", id = Guid.NewGuid().ToString(), source = "ledger", type = $"ledger.{e.Kind}", datacontenttype = "application/json", data = e }, JsonSerializerOptions.Web);

    /// <summary>Posts daprd's bulk envelope to Balances' subscription route (through its sidecar) and reads the statuses.</summary>
    private static Task<Dictionary<string, string>> DeliverAsync(BalancesCluster cluster, params (string EntryId, string Event)[] entries) =>
        DeliverAsync(cluster.Api(), entries);

    /// <summary>The same, to one replica's app directly.</summary>
    private static async Task<Dictionary<string, string>> DeliverAsync(BalancesReplica replica, params (string EntryId, string Event)[] entries)
    {
        using var http = new HttpClient { BaseAddress = replica.AppAddress };
        return await DeliverAsync(http, entries);
    }

    private static async Task<Dictionary<string, string>> DeliverAsync(HttpClient http, (string EntryId, string Event)[] entries)
    {
        var envelope = new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["type"] = "com.dapr.event.sent.bulk",
            ["pubsubname"] = "pubsub",
            ["topic"] = "ledger",
            ["metadata"] = new JsonObject(),
            ["entries"] = new JsonArray([.. entries.Select(e => new JsonObject
            {
                ["entryId"] = e.EntryId,
                ["event"] = JsonNode.Parse(e.Event),
                ["contentType"] = "application/cloudevents+json",
                ["metadata"] = new JsonObject(),
            })]),
        }.ToJsonString();
        using var response = await http.PostAsync("events/ledger", new StringContent(envelope, System.Text.Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("statuses").EnumerateArray().ToDictionary(e => e.GetProperty("entryId").GetString()!, e => e.GetProperty("status").GetString()!);
    }
}
