using Xunit.Abstractions;

namespace Platform.EndToEnd.Tests;

/// <summary>
/// The actor API is a second door into the ledger: anyone who reaches the ledger's sidecar can call
/// <c>PUT /v1.0/actors/AccountActor/{id}/method/{method}</c> without going through the HTTP API. The account actor
/// is the authority for its rules, so every command the API refuses is refused there too, with the same code, and
/// a transfer leg is applied only as the step its transfer is at. A refused command changes nothing: the
/// balance, the event log, and the read model fed by the stream all stay as they were.
/// </summary>
public sealed class ActorDoorTests(ActorDoorTests.Fixture platform, ITestOutputHelper output) : IClassFixture<ActorDoorTests.Fixture>
{
    /// <summary>
    /// name, whether a completed 30.00 transfer {t} from {a} to {b} exists first, the actor, its id, the method, the
    /// body ({a} holds 70.00 after it, or 100.00; {b} is another open account; {u} is unique per run), the refusal code,
    /// and the API route that must refuse the same body with the same code ("" when the API has no such command).
    /// </summary>
    public static TheoryData<string, bool, string, string, string, string, string, string> Cases => new()
    {
        { "deposit negative", false, "AccountActor", "{a}", "DepositAsync", """{"amount":-40,"reference":"n1"}""", "amount-not-positive", "accounts/{a}/deposits" },
        { "deposit zero", false, "AccountActor", "{a}", "DepositAsync", """{"amount":0,"reference":"n2"}""", "amount-not-positive", "accounts/{a}/deposits" },
        { "deposit 0.0001", false, "AccountActor", "{a}", "DepositAsync", """{"amount":0.0001,"reference":"n3"}""", "amount-precision", "accounts/{a}/deposits" },
        { "deposit over the maximum", false, "AccountActor", "{a}", "DepositAsync", """{"amount":1000000.01,"reference":"n4"}""", "amount-over-maximum", "accounts/{a}/deposits" },
        { "deposit with an empty reference", false, "AccountActor", "{a}", "DepositAsync", """{"amount":5,"reference":""}""", "reference-required", "accounts/{a}/deposits" },
        { "withdrawal negative", false, "AccountActor", "{a}", "WithdrawAsync", """{"amount":-40,"reference":"n5"}""", "amount-not-positive", "accounts/{a}/withdrawals" },
        { "open with an invalid id", false, "AccountActor", "Bad_Id-{u}", "OpenAsync", """{"owner":"mallory","reference":"n6"}""", "invalid-id", "" },
        { "close with an empty reference", false, "AccountActor", "{b}", "CloseAsync", """{"reference":" "}""", "reference-required", "accounts/{b}/close" },
        { "credit for a made-up transfer", false, "AccountActor", "{b}", "CreditForTransferAsync", """{"transferId":"made-up-{u}","counterpartyId":"{a}","amount":500,"reference":"made-up-{u}:credit"}""", "transfer-not-authorized", "" },
        { "debit without a transfer", false, "AccountActor", "{a}", "DebitForTransferAsync", """{"transferId":"none-{u}","counterpartyId":"{b}","amount":50,"reference":"none-{u}:debit"}""", "transfer-not-authorized", "" },
        { "compensate without a debit", false, "AccountActor", "{a}", "CompensateAsync", """{"transferId":"none-{u}","counterpartyId":"{b}","amount":50,"reference":"none-{u}:compensate"}""", "transfer-not-authorized", "" },
        { "compensate a debit that was credited", true, "AccountActor", "{a}", "CompensateAsync", """{"transferId":"{t}","counterpartyId":"{b}","amount":30,"reference":"{t}:compensate"}""", "transfer-not-authorized", "" },
        { "credit a completed transfer again, other reference", true, "AccountActor", "{b}", "CreditForTransferAsync", """{"transferId":"{t}","counterpartyId":"{a}","amount":30,"reference":"again-{u}"}""", "leg-reference-mismatch", "" },
        { "debit a completed transfer again, other reference", true, "AccountActor", "{a}", "DebitForTransferAsync", """{"transferId":"{t}","counterpartyId":"{b}","amount":30,"reference":"again-{u}"}""", "leg-reference-mismatch", "" },
        { "credit of a real transfer to the wrong account", true, "AccountActor", "{a}", "CreditForTransferAsync", """{"transferId":"{t}","counterpartyId":"{b}","amount":30,"reference":"{t}:credit"}""", "transfer-not-authorized", "" },
        { "credit with a negative amount", false, "AccountActor", "{b}", "CreditForTransferAsync", """{"transferId":"neg-{u}","counterpartyId":"{a}","amount":-30,"reference":"neg-{u}:credit"}""", "amount-not-positive", "" },
        { "transfer begun with a negative amount", false, "TransferActor", "neg-{u}", "BeginAsync", """{"fromAccountId":"{a}","toAccountId":"{b}","amount":-30}""", "amount-not-positive", "" },
        { "transfer begun to the same account", false, "TransferActor", "self-{u}", "BeginAsync", """{"fromAccountId":"{a}","toAccountId":"{a}","amount":30}""", "same-account", "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ActorMethod_BadCommand_RefusedWithTheApisCode_AndChangesNothing(
        string name, bool transferFirst, string actorType, string actorId, string method, string body, string code, string apiRoute)
    {
        var u = Guid.NewGuid().ToString("N")[..8];
        var (a, b, t) = ($"door-a-{u}", $"door-b-{u}", $"door-t-{u}");
        await platform.OpenAsync(a, 100m);
        await platform.OpenAsync(b, 0m);
        if (transferFirst)
        {
            await platform.TransferAsync(a, b, 30m, t);
        }

        string Fill(string s) => s.Replace("{a}", a).Replace("{b}", b).Replace("{t}", t).Replace("{u}", u);
        var before = await platform.ConvergedSnapshotAsync(a, b);

        var (status, answer) = await platform.CallActorAsync(actorType, Fill(actorId), method, Fill(body));
        output.WriteLine($"{name}: {status} {answer}");

        Assert.Equal(HttpStatusCode.OK, status);
        if (actorType == "AccountActor")
        {
            Assert.False(answer.GetProperty("accepted").GetBoolean());
        }

        Assert.Equal(code, ErrorOf(answer));
        if (apiRoute.Length > 0)
        {
            // The edge and the aggregate give one answer: the API's 400 names the field and the same code.
            using var api = await platform.Platform.Invoke("ledger").PostAsync(Fill(apiRoute), new StringContent(Fill(body), Encoding.UTF8, "application/json"));
            var problem = JsonDocument.Parse(await api.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(HttpStatusCode.BadRequest, api.StatusCode);
            Assert.Contains(code, problem.GetProperty("codes").EnumerateObject().Select(p => p.Value.GetString()));
        }

        Assert.Equal(before, await platform.ConvergedSnapshotAsync(a, b));
    }

    [Fact]
    public async Task TransferLeg_RepeatedWithItsReference_ReturnsTheFirstOutcome_AndChangesNothing()
    {
        var u = Guid.NewGuid().ToString("N")[..8];
        var (a, b, t) = ($"door-a-{u}", $"door-b-{u}", $"door-t-{u}");
        await platform.OpenAsync(a, 100m);
        await platform.OpenAsync(b, 0m);
        await platform.TransferAsync(a, b, 30m, t);
        var before = await platform.ConvergedSnapshotAsync(a, b);

        var (status, answer) = await platform.CallActorAsync("AccountActor", b, "CreditForTransferAsync",
            $$"""{"transferId":"{{t}}","counterpartyId":"{{a}}","amount":30,"reference":"{{t}}:credit"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(answer.GetProperty("accepted").GetBoolean(), answer.ToString());
        Assert.Equal(2, answer.GetProperty("sequence").GetInt64());
        Assert.Equal(before, await platform.ConvergedSnapshotAsync(a, b));
    }

    [Fact]
    public async Task ForgedLegs_RacingRealTransfers_MoneyConserved_EveryTransferCompletesOnce()
    {
        var u = Guid.NewGuid().ToString("N")[..8];
        var (a, b) = ($"race-a-{u}", $"race-b-{u}");
        await platform.OpenAsync(a, 1000m);
        await platform.OpenAsync(b, 0m);
        var transfers = Enumerable.Range(0, 12).Select(i => $"race-t{i}-{u}").ToList();

        // Each transfer through the API, while someone calls every leg of it at the actor door, in every order, from the start.
        var real = transfers.Select(t => platform.TransferAsync(a, b, 10m, t));
        var forged = transfers.Select(async t =>
        {
            for (var round = 0; round < 3; round++)
            {
                await Task.WhenAll(
                    platform.CallActorAsync("AccountActor", b, "CreditForTransferAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{a}}","amount":10,"reference":"{{t}}:credit"}"""),
                    platform.CallActorAsync("AccountActor", a, "CompensateAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{b}}","amount":10,"reference":"{{t}}:compensate"}"""),
                    platform.CallActorAsync("AccountActor", a, "DebitForTransferAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{b}}","amount":10,"reference":"{{t}}:debit"}"""),
                    platform.CallActorAsync("AccountActor", b, "CreditForTransferAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{a}}","amount":99,"reference":"{{t}}:credit"}"""));
            }
        });
        await Task.WhenAll(real.Concat(forged));

        await platform.ConvergedSnapshotAsync(a, b);
        var (ledgerA, ledgerB) = (await Consistency.LedgerAccountAsync(platform.Platform, a), await Consistency.LedgerAccountAsync(platform.Platform, b));
        Assert.Equal(1000m - (12 * 10m), ledgerA.Balance);
        Assert.Equal(12 * 10m, ledgerB.Balance);
        var eventsB = await Consistency.LedgerEventsAsync(platform.Platform, b);
        Assert.Equal(12, eventsB.Count(e => e.GetProperty("kind").GetString() == "TransferCredited"));
        Assert.DoesNotContain(await Consistency.LedgerEventsAsync(platform.Platform, a), e => e.GetProperty("kind").GetString() == "TransferCompensated");
    }

    private static string? ErrorOf(JsonElement answer) =>
        answer.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()
        : answer.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.Object && r.TryGetProperty("error", out var re) ? re.GetString()
        : null;

    [Theory]
    [InlineData("credit")]
    [InlineData("compensate")]
    public async Task LastLeg_DecidedButNotStored_AsIfTheProcessDiedBetween_ResumeStoresIt_MoneyConserved(string leg)
    {
        // The transfer records a credit (or a compensation) before its account stores it. Here the decision is
        // recorded through the actor door and the account never hears of it, which is what a process killed between
        // the two writes leaves behind. Nobody resends anything: the transfer's resume reminder must finish it.
        var u = Guid.NewGuid().ToString("N")[..8];
        var (a, b, t) = ($"gap-a-{u}", $"gap-b-{u}", $"gap-t-{u}");
        await platform.OpenAsync(a, 100m);
        await platform.OpenAsync(b, 0m);
        Assert.Equal(HttpStatusCode.OK, (await platform.CallActorAsync("TransferActor", t, "BeginAsync", $$"""{"fromAccountId":"{{a}}","toAccountId":"{{b}}","amount":30}""")).Status);
        var (_, debit) = await platform.CallActorAsync("AccountActor", a, "DebitForTransferAsync", $$"""{"transferId":"{{t}}","counterpartyId":"{{b}}","amount":30,"reference":"{{t}}:debit"}""");
        Assert.True(debit.GetProperty("accepted").GetBoolean(), debit.ToString());
        var (_, credit) = await platform.CallActorAsync("TransferActor", t, "DecideAsync",
            $$"""{"kind":"credit","accountId":"{{b}}","counterpartyId":"{{a}}","amount":30,"accept":{{(leg == "credit" ? "true" : "false")}},"error":"account-closed","detail":"gone"}""");
        Assert.True(credit.GetProperty("authorized").GetBoolean(), credit.ToString());
        if (leg == "compensate")
        {
            var (_, back) = await platform.CallActorAsync("TransferActor", t, "DecideAsync", $$"""{"kind":"compensate","accountId":"{{a}}","counterpartyId":"{{b}}","amount":30,"accept":true}""");
            Assert.True(back.GetProperty("apply").GetBoolean(), back.ToString());
        }

        var expected = leg == "credit" ? (A: 70m, B: 30m) : (A: 100m, B: 0m);
        await Poll.UntilAsync(async () => (await Consistency.LedgerAccountAsync(platform.Platform, a)).Balance + (await Consistency.LedgerAccountAsync(platform.Platform, b)).Balance,
            sum => sum == 100m, "the resume reminder to store the last leg (money back to 100 in all)", seconds: 90);
        await platform.ConvergedSnapshotAsync(a, b);
        Assert.Equal(expected.A, (await Consistency.LedgerAccountAsync(platform.Platform, a)).Balance);
        Assert.Equal(expected.B, (await Consistency.LedgerAccountAsync(platform.Platform, b)).Balance);
    }

    /// <summary>Ledger and Balances as processes on Redis; clients and the actor door both go through the ledger's sidecar.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public PlatformUnderTest Platform { get; private set; } = null!;

        private HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

        public async Task InitializeAsync() => Platform = await PlatformUnderTest.StartAsync(new PlatformOptions(Balances: true));

        public async Task OpenAsync(string id, decimal deposit)
        {
            var ledger = Platform.Invoke("ledger");
            await Send(ledger.PostAsJsonAsync("accounts", new { accountId = id, owner = "alice", reference = $"open-{id}" }));
            if (deposit > 0)
            {
                await Send(ledger.PostAsJsonAsync($"accounts/{id}/deposits", new { amount = deposit, reference = $"seed-{id}" }));
            }
        }

        public async Task TransferAsync(string from, string to, decimal amount, string reference)
        {
            using var response = await Platform.Invoke("ledger").PostAsJsonAsync("transfers", new { fromAccountId = from, toAccountId = to, amount, reference });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            Assert.Equal("completed", JsonDocument.Parse(text).RootElement.GetProperty("status").GetString());
        }

        /// <summary>A call through the actor API of the ledger's sidecar, as any client of that sidecar can make.</summary>
        public async Task<(HttpStatusCode Status, JsonElement Answer)> CallActorAsync(string type, string id, string method, string body)
        {
            using var response = await Http.PutAsync($"{Platform.SidecarEndpoint}/v1.0/actors/{type}/{Uri.EscapeDataString(id)}/method/{method}",
                new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
        }

        /// <summary>
        /// Waits until Balances has applied each account's last ledger event, then describes both accounts as the ledger
        /// (view and event log) and the read model (balance, last sequence, statement size) see them, plus the read model's totals.
        /// </summary>
        public async Task<string> ConvergedSnapshotAsync(params string[] accounts)
        {
            var ledger = Platform.Invoke("ledger");
            var parts = new List<string>();
            foreach (var id in accounts)
            {
                var account = await Consistency.LedgerAccountAsync(Platform, id);
                var read = await Poll.UntilAsync(() => Consistency.BalancesAccountAsync(Platform, id), r => r is not null && r.LastSequence == account.Sequence,
                    $"Balances to reach {id}'s last sequence {account.Sequence}", seconds: 90);
                Assert.Equal(account.Balance, read.Balance);
                var events = await ledger.GetStringAsync($"accounts/{id}/events");
                Assert.Equal(account.Balance, (await Consistency.LedgerEventsAsync(Platform, id)).Sum(Consistency.Effect));
                parts.Add($"{await ledger.GetStringAsync($"accounts/{id}")}\n{events}\n{read}");
            }

            var totals = await Consistency.BalancesTotalsAsync(Platform);
            parts.Add($"accounts {totals.Accounts}, total {totals.TotalBalance}, ignored {totals.EventsIgnored}");
            return string.Join('\n', parts);
        }

        private static async Task Send(Task<HttpResponseMessage> call)
        {
            using var response = await call;
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        public async Task DisposeAsync()
        {
            Http.Dispose();
            await Platform.DisposeAsync();
        }
    }
}
