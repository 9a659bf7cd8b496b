namespace Platform.Ledger.Tests;

/// <summary>The event-sourced ledger through its sidecar, on Redis: commands, rules, idempotency, ordering, faults.</summary>
public sealed class LedgerTests : IAsyncLifetime
{
    private LedgerFixture _f = null!;

    public async Task InitializeAsync() => _f = await LedgerFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private static string Id() => $"acc-{Guid.NewGuid():N}"[..16];

    private async Task<string> OpenAsync(decimal deposit = 0)
    {
        var id = Id();
        (await _f.Ledger.PostAsJsonAsync("accounts", new { accountId = id, owner = "alice", reference = $"open-{id}" })).EnsureSuccessStatusCode();
        if (deposit > 0)
        {
            (await _f.Ledger.PostAsJsonAsync($"accounts/{id}/deposits", new { amount = deposit, reference = $"seed-{id}" })).EnsureSuccessStatusCode();
        }

        return id;
    }

    private async Task<JsonElement> AccountAsync(string id) => await _f.Ledger.GetFromJsonAsync<JsonElement>($"accounts/{id}");

    private async Task<List<JsonElement>> LogAsync(string id) => (await _f.Ledger.GetFromJsonAsync<List<JsonElement>>($"accounts/{id}/events?fromSequence=1"))!;

    [Fact]
    public async Task Commands_AppendEventsInOrder_AndPublishThem()
    {
        var a = await OpenAsync(100m);
        (await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 30.25m, reference = "w1" })).EnsureSuccessStatusCode();

        Assert.Equal(69.75m, (await AccountAsync(a)).GetProperty("balance").GetDecimal());
        var log = await LogAsync(a);
        Assert.Equal(["AccountOpened", "Deposited", "Withdrawn"], log.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal([1L, 2L, 3L], log.Select(e => e.GetProperty("sequence").GetInt64()));
        await Poll.UntilAsync(() => _f.EventsOf(a).Select(e => e.GetProperty("sequence").GetInt64()).Distinct().Count() == 3, "the three events on topic ledger");
        var delivered = _f.EventsOf(a).Select(e => e.GetProperty("sequence").GetInt64()).Distinct().ToList();
        Assert.Equal([1L, 2L, 3L], delivered);
    }

    [Fact]
    public async Task SameReference_ReturnsFirstOutcome_ChangesNothing()
    {
        var a = await OpenAsync(50m);
        var first = await (await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 10m, reference = "dup" })).Content.ReadFromJsonAsync<JsonElement>();
        var again = await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 10m, reference = "dup" });

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(first.GetProperty("sequence").GetInt64(), (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sequence").GetInt64());
        Assert.Equal(40m, (await AccountAsync(a)).GetProperty("balance").GetDecimal());
        Assert.Equal(3, (await LogAsync(a)).Count);
    }

    [Theory]
    [InlineData("{\"amount\":-5,\"reference\":\"r\"}", "amount")]
    [InlineData("{\"amount\":0,\"reference\":\"r\"}", "amount")]
    [InlineData("{\"amount\":1.005,\"reference\":\"r\"}", "amount")]
    [InlineData("{\"amount\":2000000,\"reference\":\"r\"}", "amount")]
    [InlineData("{\"amount\":5}", "reference")]
    public async Task BadCommand_400NamingTheField_NothingWritten(string body, string field)
    {
        var a = await OpenAsync(10m);

        var response = await _f.Ledger.PostAsync($"accounts/{a}/deposits", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(2, (await LogAsync(a)).Count);
    }

    [Fact]
    public async Task MalformedJson_400_NothingWritten()
    {
        var a = await OpenAsync(10m);

        var response = await _f.Ledger.PostAsync($"accounts/{a}/deposits", new StringContent("{\"amount\": \"lots\"", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(2, (await LogAsync(a)).Count);
    }

    [Fact]
    public async Task Overdraft_409NamingTheRule_NothingWritten()
    {
        var a = await OpenAsync(20m);

        var response = await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 20.01m, reference = "too-much" });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("insufficient-funds", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rule").GetString());
        Assert.Equal(20m, (await AccountAsync(a)).GetProperty("balance").GetDecimal());
        Assert.Equal(2, (await LogAsync(a)).Count);
    }

    [Fact]
    public async Task UnknownAccount_404()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _f.Ledger.PostAsJsonAsync($"accounts/{Id()}/deposits", new { amount = 1m, reference = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _f.Ledger.GetAsync($"accounts/{Id()}/events")).StatusCode);
    }

    [Fact]
    public async Task ConcurrentWithdrawals_NoLostUpdate_NoOverdraft()
    {
        var a = await OpenAsync(100m);

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 10m, reference = $"c{i}" })));

        Assert.Equal(10, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(20, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Equal(0m, (await AccountAsync(a)).GetProperty("balance").GetDecimal());
        Assert.Equal(12, (await LogAsync(a)).Count);
    }

    [Fact]
    public async Task Transfer_MovesMoney_BothSidesRecorded()
    {
        var (from, to) = (await OpenAsync(100m), await OpenAsync());

        var response = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount = 40m, reference = $"t-{from}" });

        Assert.Equal("completed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(60m, (await AccountAsync(from)).GetProperty("balance").GetDecimal());
        Assert.Equal(40m, (await AccountAsync(to)).GetProperty("balance").GetDecimal());
        Assert.Equal("TransferDebited", (await LogAsync(from)).Last().GetProperty("kind").GetString());
        Assert.Equal("TransferCredited", (await LogAsync(to)).Last().GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Transfer_ToMissingAccount_RefusedBeforeAnyDebit()
    {
        var from = await OpenAsync(100m);

        var response = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = Id(), amount = 40m, reference = $"t-{from}" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not-found", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rule").GetString());
        Assert.Equal(100m, (await AccountAsync(from)).GetProperty("balance").GetDecimal());
        Assert.Equal(2, (await LogAsync(from)).Count);
    }

    [Fact]
    public async Task Transfer_ToClosedAccount_DebitCompensated()
    {
        var (from, to) = (await OpenAsync(100m), await OpenAsync());
        var close = await _f.Ledger.PostAsJsonAsync($"accounts/{to}/close", new { reference = $"close-{to}" });
        Assert.Equal(HttpStatusCode.OK, close.StatusCode);

        var response = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount = 40m, reference = $"t-{from}" });

        Assert.Equal("compensated", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(100m, (await AccountAsync(from)).GetProperty("balance").GetDecimal());
        Assert.Equal(["TransferDebited", "TransferCompensated"], (await LogAsync(from)).Skip(2).Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal(["AccountOpened", "AccountClosed"], (await LogAsync(to)).Select(e => e.GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task Close_WithMoneyIn_RefusedAndNothingChanges()
    {
        var account = await OpenAsync(5m);

        var close = await _f.Ledger.PostAsJsonAsync($"accounts/{account}/close", new { reference = $"close-{account}" });

        Assert.Equal(HttpStatusCode.Conflict, close.StatusCode);
        Assert.Equal("balance-not-zero", (await close.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rule").GetString());
        Assert.False((await AccountAsync(account)).GetProperty("closed").GetBoolean());
        Assert.Equal(2, (await LogAsync(account)).Count);
    }

    [Fact]
    public async Task Transfer_Overdraft_RejectedAndNothingMoves()
    {
        var (from, to) = (await OpenAsync(10m), await OpenAsync());

        var response = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount = 40m, reference = $"t-{from}" });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal(2, (await LogAsync(from)).Count);
        Assert.Single(await LogAsync(to));
    }

    [Fact]
    public async Task BrokerDown_CommandsAccepted_EventsPublishedWhenItReturns()
    {
        var a = await OpenAsync(100m);
        await Poll.UntilAsync(() => _f.EventsOf(a).Any(e => e.GetProperty("sequence").GetInt64() == 2), "the first events");

        await _f.BrokerRedis.StopAsync();
        for (var i = 0; i < 3; i++)
        {
            (await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 1m, reference = $"while-down-{i}" })).EnsureSuccessStatusCode();
        }

        await _f.BrokerRedis.RestartAsync();

        // The outbox reminder publishes what was stored while the broker was away (the stream restarts empty).
        await Poll.UntilAsync(() => _f.EventsOf(a).Select(e => e.GetProperty("sequence").GetInt64()).Distinct().Count() == 5, "events 3-5 after the broker came back", 90);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], _f.EventsOf(a).Select(e => e.GetProperty("sequence").GetInt64()).Distinct().Order());
    }

    [Fact]
    public async Task ReusedReference_DifferentCommand_409AndNothingWritten()
    {
        var a = await OpenAsync(50m);
        (await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 10m, reference = "ref-1" })).EnsureSuccessStatusCode();

        var sameAgain = await _f.Ledger.PostAsync($"accounts/{a}/withdrawals", new StringContent("{\"amount\":10.00,\"reference\":\"ref-1\"}", System.Text.Encoding.UTF8, "application/json"));
        var different = await _f.Ledger.PostAsJsonAsync($"accounts/{a}/withdrawals", new { amount = 20m, reference = "ref-1" });
        var otherKind = await _f.Ledger.PostAsJsonAsync($"accounts/{a}/deposits", new { amount = 10m, reference = "ref-1" });

        Assert.Equal(HttpStatusCode.OK, sameAgain.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, different.StatusCode);
        Assert.Equal("reference-reused", (await different.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rule").GetString());
        Assert.Equal(HttpStatusCode.Conflict, otherKind.StatusCode);
        Assert.Equal(40m, (await AccountAsync(a)).GetProperty("balance").GetDecimal());
        Assert.Equal(3, (await LogAsync(a)).Count);
    }

    [Fact]
    public async Task Transfer_ReusedReferenceDifferentBody_409_SelfTransfer_400()
    {
        var (from, to) = (await OpenAsync(100m), await OpenAsync());
        (await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount = 10m, reference = $"t-{from}" })).EnsureSuccessStatusCode();

        var reused = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount = 99m, reference = $"t-{from}" });
        var self = await _f.Ledger.PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = from, amount = 1m, reference = $"s-{from}" });

        Assert.Equal(HttpStatusCode.Conflict, reused.StatusCode);
        Assert.Equal("reference-reused", (await reused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rule").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, self.StatusCode);
        Assert.True((await self.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("toAccountId", out _));
        Assert.Equal(90m, (await AccountAsync(from)).GetProperty("balance").GetDecimal());
        Assert.Equal(3, (await LogAsync(from)).Count);
    }

    [Theory]
    [InlineData("{\"accountId\":\"Bad Id!\",\"owner\":\"a\",\"reference\":\"r\"}", "accountId")]
    [InlineData("{\"accountId\":\"ok-1\",\"reference\":\"r\"}", "owner")]
    [InlineData("{\"accountId\":\"ok-2\",\"owner\":\"a\"}", "reference")]
    public async Task Open_BadCommand_400NamingTheField(string body, string field)
    {
        var response = await _f.Ledger.PostAsync("accounts", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
    }
}
