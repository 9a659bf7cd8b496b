namespace Platform.EndToEnd.Tests.Infrastructure;

public sealed record LedgerAccount(string AccountId, decimal Balance, long Sequence);

public sealed record BalancesAccount(string AccountId, decimal Balance, long LastSequence, int StatementLines);

public sealed record BalancesTotals(long Accounts, decimal TotalBalance, long EventsApplied, long EventsIgnored);

/// <summary>The three views of every account — the actor, the published stream, the read model — and the checks that they agree.</summary>
public static class Consistency
{
    public static async Task<LedgerAccount> LedgerAccountAsync(PlatformUnderTest platform, string id) =>
        (await platform.Invoke("ledger").GetFromJsonAsync<LedgerAccount>($"accounts/{id}", JsonSerializerOptions.Web))!;

    public static async Task<IReadOnlyList<JsonElement>> LedgerEventsAsync(PlatformUnderTest platform, string id) =>
        (await platform.Invoke("ledger").GetFromJsonAsync<List<JsonElement>>($"accounts/{id}/events", JsonSerializerOptions.Web))!;

    public static async Task<BalancesAccount?> BalancesAccountAsync(PlatformUnderTest platform, string id)
    {
        using var response = await platform.Invoke("balances").GetAsync($"accounts/{id}/balance");
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<BalancesAccount>(JsonSerializerOptions.Web);
    }

    public static async Task<BalancesTotals> BalancesTotalsAsync(PlatformUnderTest platform) =>
        (await platform.Invoke("balances").GetFromJsonAsync<BalancesTotals>("totals", JsonSerializerOptions.Web))!;

    public static decimal Effect(JsonElement e)
    {
        var amount = e.TryGetProperty("amount", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDecimal() : 0;
        return e.GetProperty("kind").GetString() switch
        {
            "Deposited" or "TransferCredited" or "TransferCompensated" => amount,
            "Withdrawn" or "TransferDebited" => -amount,
            _ => 0,
        };
    }

    /// <summary>Waits until the observer has every event and the read model has applied every event, then checks that they all agree.</summary>
    public static async Task AssertConvergedAsync(PlatformUnderTest platform, IReadOnlyList<string> accounts, int seconds = 120)
    {
        var ledger = (await Task.WhenAll(accounts.Select(a => LedgerAccountAsync(platform, a)))).ToDictionary(a => a.AccountId);
        var totalEvents = ledger.Values.Sum(a => a.Sequence);

        await Poll.UntilAsync(
            () => Task.FromResult<int?>(DistinctDelivered(platform).Count(k => ledger.ContainsKey(k.AccountId))),
            n => n == totalEvents, $"the observer to be delivered all {totalEvents} events", seconds);
        await Poll.UntilAsync(
            async () => (int?)(await Task.WhenAll(accounts.Select(a => BalancesAccountAsync(platform, a)))).Count(b => b is not null && b.LastSequence == ledger[b.AccountId].Sequence),
            n => n == accounts.Count, "the read model to apply every event", seconds);

        var delivered = platform.LedgerDeliveries.ToList();
        var totals = await BalancesTotalsAsync(platform);
        foreach (var id in accounts)
        {
            var actor = ledger[id];
            var log = await LedgerEventsAsync(platform, id);
            Assert.Equal(Enumerable.Range(1, (int)actor.Sequence).Select(i => (long)i), log.Select(e => e.GetProperty("sequence").GetInt64()));
            Assert.Equal(actor.Balance, log.Sum(Effect));

            // Every stored event was published, exactly as stored; a redelivery carries the same event.
            var mine = delivered.Where(e => e.GetProperty("accountId").GetString() == id).GroupBy(e => e.GetProperty("sequence").GetInt64()).OrderBy(g => g.Key).ToList();
            Assert.Equal(log.Select(e => e.GetProperty("sequence").GetInt64()), mine.Select(g => g.Key));
            foreach (var copies in mine)
            {
                var stored = log[(int)copies.Key - 1];
                Assert.All(copies, c => Assert.Equal(Canonical(stored), Canonical(c)));
            }

            Assert.Equal(actor.Balance, mine.Sum(g => Effect(g.First())));

            // The read model: the same balance, and each event applied exactly once (one statement line per event).
            var read = await BalancesAccountAsync(platform, id);
            Assert.NotNull(read);
            Assert.Equal(actor.Balance, read.Balance);
            Assert.Equal(actor.Sequence, read.LastSequence);
            Assert.Equal(actor.Sequence, read.StatementLines);
            var lines = await StatementSequencesAsync(platform, id);
            Assert.Equal(Enumerable.Range(1, (int)actor.Sequence).Select(i => (long)i), lines);
        }

        Assert.Equal(accounts.Count, totals.Accounts);
        Assert.Equal(ledger.Values.Sum(a => a.Balance), totals.TotalBalance);
        Assert.Equal(totalEvents, totals.EventsApplied + totals.EventsIgnored);
        Assert.Equal(0, totals.EventsIgnored);
    }

    private static async Task<List<long>> StatementSequencesAsync(PlatformUnderTest platform, string id)
    {
        var sequences = new List<long>();
        for (var page = 1; ; page++)
        {
            var statement = await platform.Invoke("balances").GetFromJsonAsync<JsonElement>($"accounts/{id}/statement?page={page}&pageSize=100");
            sequences.AddRange(statement.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("sequence").GetInt64()));
            if (page >= statement.GetProperty("totalPages").GetInt32())
            {
                return sequences;
            }
        }
    }

    private static HashSet<(string AccountId, long Sequence)> DistinctDelivered(PlatformUnderTest platform) =>
        [.. platform.LedgerDeliveries.Select(e => (e.GetProperty("accountId").GetString()!, e.GetProperty("sequence").GetInt64()))];

    private static string Canonical(JsonElement e) =>
        string.Join('|', e.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null).OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => p.Name == "amount" ? $"amount={p.Value.GetDecimal()}" : p.Name == "occurredAt" ? $"at={p.Value.GetDateTimeOffset().UtcTicks}" : $"{p.Name}={p.Value.GetRawText()}"));
}
