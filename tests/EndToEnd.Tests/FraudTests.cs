namespace Platform.EndToEnd.Tests;

/// <summary>
/// Fraud (Node, @dapr/dapr) behind its own sidecar, fed by the ledger's stream on Redis. Velocity: more than
/// FRAUD_VELOCITY_MAX debits of one account within FRAUD_VELOCITY_WINDOW_SECONDS of event time.
/// </summary>
public sealed class FraudTests
{
    private const int Withdrawals = 8;

    private static readonly PlatformOptions Options = new(Balances: false, Fraud: true)
    {
        FraudEnvironment = new Dictionary<string, string>
        {
            ["FRAUD_VELOCITY_MAX"] = "5",
            ["FRAUD_VELOCITY_WINDOW_SECONDS"] = "60",
            // Equal withdrawals are never unusual; only the velocity rule is under test here.
            ["FRAUD_AMOUNT_FACTOR"] = "1000",
        },
    };

    [Fact]
    public async Task BurstOfWithdrawalsThroughTheLedger_RaisesTheVelocityAlert()
    {
        await using var platform = await PlatformUnderTest.StartAsync(Options);
        var ledger = platform.Invoke("ledger");
        var account = (await LedgerWorkload.OpenAccountsAsync(ledger, 1, 1_000m, "burst"))[0];
        for (var i = 1; i <= Withdrawals; i++)
        {
            using var withdrawal = await ledger.PostAsJsonAsync($"accounts/{account}/withdrawals", new { amount = 10m, reference = $"w-{i}" });
            withdrawal.EnsureSuccessStatusCode();
        }

        var alert = await Poll.UntilAsync(async () => (await AlertsAsync(platform)).FirstOrDefault(a => Is(a, "velocity", account)),
            a => a.ValueKind == JsonValueKind.Object, "a velocity alert on GET /alerts");
        Assert.Equal(JsonValueKind.Object, alert.ValueKind);
        await Poll.UntilAsync(() => Task.FromResult(platform.AlertDeliveries.Any(a => Is(a, "velocity", account))), "the alert on topic alerts");

        // One burst, one alert: the sixth withdrawal raised it, the seventh and eighth are the same burst.
        Assert.Single(await AlertsAsync(platform), a => a.GetProperty("accountId").GetString() == account);
        Assert.Equal(8, alert.GetProperty("sequence").GetInt64());
    }

    /// <summary>
    /// The same withdrawals published as the ledger would publish them, with event times 1 s or 120 s apart (so
    /// "spread out" takes no waiting): alert for the burst, none for the same volume spread out.
    /// </summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(120, false)]
    public async Task ScriptedWithdrawals_AlertOnlyWhenTheyFallInOneWindow(int secondsApart, bool alert)
    {
        await using var platform = await PlatformUnderTest.StartAsync(Options);
        using var publisher = new HttpClient { BaseAddress = new Uri(platform.SidecarEndpoint) };
        var account = $"script-{secondsApart}";
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        var events = new List<object>
        {
            new { kind = "AccountOpened", accountId = account, sequence = 1, reference = "open", occurredAt = start, owner = "mallory" },
            new { kind = "Deposited", accountId = account, sequence = 2, amount = 1_000m, reference = "seed", occurredAt = start },
        };
        events.AddRange(Enumerable.Range(1, Withdrawals).Select(i => (object)new
        {
            kind = "Withdrawn", accountId = account, sequence = 2 + i, amount = 10m, reference = $"w-{i}", occurredAt = start.AddSeconds(i * secondsApart),
        }));
        foreach (var e in events)
        {
            using var published = await publisher.PostAsJsonAsync("v1.0/publish/pubsub/ledger", e, JsonSerializerOptions.Web);
            published.EnsureSuccessStatusCode();
        }

        // Every event processed: an alert, if any, is stored and published before the count moves.
        await Poll.UntilAsync(async () => (await platform.Invoke("fraud").GetFromJsonAsync<JsonElement>("stats")).GetProperty("processed").GetInt32(),
            n => n == events.Count, $"fraud to process {events.Count} events");
        var raised = (await AlertsAsync(platform)).Where(a => Is(a, "velocity", account)).ToList();
        Assert.Equal(alert ? 1 : 0, raised.Count);
        if (alert)
        {
            await Poll.UntilAsync(() => Task.FromResult(platform.AlertDeliveries.Any(a => Is(a, "velocity", account))), "the alert on topic alerts");
        }
        else
        {
            Assert.Empty(await AlertsAsync(platform));
            Assert.Empty(platform.AlertDeliveries);
        }
    }

    private static async Task<List<JsonElement>> AlertsAsync(PlatformUnderTest platform) =>
        (await platform.Invoke("fraud").GetFromJsonAsync<List<JsonElement>>("alerts?limit=100"))!;

    private static bool Is(JsonElement alert, string rule, string account) =>
        alert.GetProperty("rule").GetString() == rule && alert.GetProperty("accountId").GetString() == account;
}
