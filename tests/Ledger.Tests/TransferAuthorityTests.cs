namespace Platform.Ledger.Tests;

/// <summary>The transfer actor as the authority over its legs: no deadlock when transfers cross, and an account's decision on a leg is final.</summary>
public sealed class TransferAuthorityTests : IAsyncLifetime
{
    private LedgerFixture _f = null!;

    public async Task InitializeAsync() => _f = await LedgerFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private async Task<string> OpenAsync(decimal deposit)
    {
        var id = $"acc-{Guid.NewGuid():N}"[..16];
        (await _f.Ledger.PostAsJsonAsync("accounts", new { accountId = id, owner = "alice", reference = $"open-{id}" })).EnsureSuccessStatusCode();
        if (deposit > 0)
        {
            (await _f.Ledger.PostAsJsonAsync($"accounts/{id}/deposits", new { amount = deposit, reference = $"seed-{id}" })).EnsureSuccessStatusCode();
        }

        return id;
    }

    private async Task<JsonElement> AccountAsync(string id) => await _f.Ledger.GetFromJsonAsync<JsonElement>($"accounts/{id}");

    private async Task<JsonElement> ActorAsync(string id, string method, string body)
    {
        using var response = await _f.Ledger.PutAsync(new Uri(_f.Ledger.BaseAddress!, $"/v1.0/actors/AccountActor/{id}/method/{method}"),
            new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task CrossedTransfers_BothWaysAtOnce_AllComplete_MoneyConserved()
    {
        var (a, b) = (await OpenAsync(500m), await OpenAsync(500m));

        // A→B and B→A at the same time: with accounts that called each other (or a transfer actor that called
        // accounts which call it back) some of these would wait on each other for ever.
        var calls = Enumerable.Range(0, 30).Select(i => _f.Ledger.PostAsJsonAsync("transfers",
            i % 2 == 0 ? new { fromAccountId = a, toAccountId = b, amount = 10m, reference = $"x{i}-{a}" } : new { fromAccountId = b, toAccountId = a, amount = 10m, reference = $"x{i}-{a}" }));
        var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(90));

        foreach (var answer in answers)
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("completed", (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        Assert.Equal(500m, (await AccountAsync(a)).GetProperty("balance").GetDecimal());
        Assert.Equal(500m, (await AccountAsync(b)).GetProperty("balance").GetDecimal());
        Assert.Equal(2 + 30, (await AccountAsync(a)).GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task CreditRefused_IsFinal_TheLegsAnswerTheirFirstOutcome_NothingMoves()
    {
        var (from, to) = (await OpenAsync(100m), await OpenAsync(0m));
        (await _f.Ledger.PostAsJsonAsync($"accounts/{to}/close", new { reference = $"close-{to}" })).EnsureSuccessStatusCode();
        var t = $"t-{from}";
        var transfer = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount = 40m, reference = t });
        Assert.Equal("compensated", (await transfer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        var (fromBefore, toBefore) = (await AccountAsync(from), await AccountAsync(to));

        var credit = await ActorAsync(to, "CreditForTransferAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{from}}","amount":40,"reference":"{{t}}:credit"}""");
        var compensate = await ActorAsync(from, "CompensateAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{to}}","amount":40,"reference":"{{t}}:compensate"}""");
        var debit = await ActorAsync(from, "DebitForTransferAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{to}}","amount":40,"reference":"{{t}}:debit"}""");

        Assert.False(credit.GetProperty("accepted").GetBoolean());
        Assert.Equal("account-closed", credit.GetProperty("error").GetString());
        Assert.True(compensate.GetProperty("accepted").GetBoolean());
        Assert.Equal(4, compensate.GetProperty("sequence").GetInt64());
        Assert.True(debit.GetProperty("accepted").GetBoolean());
        Assert.Equal(3, debit.GetProperty("sequence").GetInt64());
        Assert.Equal(fromBefore.ToString(), (await AccountAsync(from)).ToString());
        Assert.Equal(toBefore.ToString(), (await AccountAsync(to)).ToString());
        Assert.Equal(100m, (await AccountAsync(from)).GetProperty("balance").GetDecimal());
    }
}
