using Xunit.Abstractions;

namespace Platform.EndToEnd.Tests;

/// <summary>
/// Where a bad request goes in.
/// <list type="bullet">
/// <item><c>Ledger</c>, <c>Balances</c>, <c>Fraud</c>: the service's API through a sidecar (service invocation), as a client does.</item>
/// <item><c>BalancesDelivery</c>, <c>FraudDelivery</c>: straight to the app's subscription route, as the sidecar delivers
/// what a broken publisher published. A subscriber must answer those with Dapr's DROP (HTTP 200): any other
/// non-2xx is redelivered forever, so a 4xx would turn one bad event into an endless retry loop.</item>
/// </list>
/// </summary>
public enum Target
{
    Ledger,
    Balances,
    Fraud,
    BalancesDelivery,
    FraudDelivery,
}

/// <summary>Bad input over the three services: each is refused with a clear answer naming what is wrong, and nothing changes.</summary>
public sealed class BadInputTests(BadInputTests.Fixture platform, ITestOutputHelper output) : IClassFixture<BadInputTests.Fixture>
{
    private const string Json = "application/json";
    private const string CloudEvent = "application/cloudevents+json";

    /// <summary>name, where, method, path, body, content type, expected status, and what the answer must name: a rule (refusals), a code (unreadable requests), a field (validation), or DROP.</summary>
    public static TheoryData<string, Target, string, string, string?, string, int, string> Cases => new()
    {
        { "malformed JSON", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": 10, "reference": """, Json, 400, "malformed-json" },
        { "amount is text", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": "ten", "reference": "x1"}""", Json, 400, "malformed-json" },
        { "amount is a boolean", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": true, "reference": "x2"}""", Json, 400, "malformed-json" },
        { "body is an array", Target.Ledger, "POST", "accounts/bad-a/deposits", """[1, 2]""", Json, 400, "malformed-json" },
        { "negative amount", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": -5, "reference": "x3"}""", Json, 400, "amount" },
        { "zero amount", Target.Ledger, "POST", "accounts/bad-a/withdrawals", """{"amount": 0, "reference": "x4"}""", Json, 400, "amount" },
        { "three decimals", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": 1.005, "reference": "x5"}""", Json, 400, "amount" },
        { "amount over the maximum", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": 1000000000, "reference": "x6"}""", Json, 400, "amount" },
        { "amount beyond decimal", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": 1e40, "reference": "x7"}""", Json, 400, "malformed-json" },
        { "missing reference", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": 5}""", Json, 400, "reference" },
        { "not JSON at all", Target.Ledger, "POST", "accounts/bad-a/deposits", "amount=5&reference=x8", "application/x-www-form-urlencoded", 415, "unsupported-media-type" },
        { "deposit to an unknown account", Target.Ledger, "POST", "accounts/bad-none/deposits", """{"amount": 5, "reference": "x9"}""", Json, 404, "not-found" },
        { "withdrawal overdraws", Target.Ledger, "POST", "accounts/bad-b/withdrawals", """{"amount": 1000, "reference": "x10"}""", Json, 409, "insufficient-funds" },
        { "deposit to a closed account", Target.Ledger, "POST", "accounts/bad-closed/deposits", """{"amount": 5, "reference": "x11"}""", Json, 409, "account-closed" },
        { "transfer from a closed account", Target.Ledger, "POST", "transfers", """{"fromAccountId": "bad-closed", "toAccountId": "bad-a", "amount": 1, "reference": "x12"}""", Json, 409, "account-closed" },
        { "closing an account with money in it", Target.Ledger, "POST", "accounts/bad-a/close", """{"reference": "x13"}""", Json, 409, "balance-not-zero" },
        { "invalid account id", Target.Ledger, "POST", "accounts", """{"accountId": "Bad Id!", "owner": "o", "reference": "x14"}""", Json, 400, "accountId" },
        { "opening an open account", Target.Ledger, "POST", "accounts", """{"accountId": "bad-a", "owner": "o", "reference": "x15"}""", Json, 409, "already-open" },
        { "self-transfer", Target.Ledger, "POST", "transfers", """{"fromAccountId": "bad-a", "toAccountId": "bad-a", "amount": 1, "reference": "x16"}""", Json, 400, "toAccountId" },
        { "transfer to an unknown account", Target.Ledger, "POST", "transfers", """{"fromAccountId": "bad-a", "toAccountId": "bad-none", "amount": 1, "reference": "x17"}""", Json, 404, "not-found" },
        { "transfer from an unknown account", Target.Ledger, "POST", "transfers", """{"fromAccountId": "bad-none", "toAccountId": "bad-a", "amount": 1, "reference": "x18"}""", Json, 404, "not-found" },
        { "transfer with three decimals", Target.Ledger, "POST", "transfers", """{"fromAccountId": "bad-a", "toAccountId": "bad-b", "amount": 0.001, "reference": "x19"}""", Json, 400, "amount" },
        { "transfer reference reused, other body", Target.Ledger, "POST", "transfers", """{"fromAccountId": "bad-a", "toAccountId": "bad-b", "amount": 11, "reference": "t-used"}""", Json, 409, "reference-reused" },
        { "deposit reference reused, other body", Target.Ledger, "POST", "accounts/bad-a/deposits", """{"amount": 6, "reference": "d-used"}""", Json, 409, "reference-reused" },
        { "events from sequence 0", Target.Ledger, "GET", "accounts/bad-a/events?fromSequence=0", null, Json, 400, "fromSequence" },
        { "oversize command (2 MB)", Target.Ledger, "POST", "accounts/bad-a/deposits", Oversize(2 * 1024 * 1024), Json, 413, "body-too-large" },
        { "statement page is text", Target.Balances, "GET", "accounts/bad-a/statement?page=abc", null, Json, 400, "page" },
        { "statement page size too big", Target.Balances, "GET", "accounts/bad-a/statement?pageSize=1000", null, Json, 400, "pageSize" },
        { "balance of an unknown account", Target.Balances, "GET", "accounts/bad-none/balance", null, Json, 404, "" },
        { "alerts limit is text", Target.Fraud, "GET", "alerts?limit=abc", null, Json, 400, "" },
        { "alerts limit zero", Target.Fraud, "GET", "alerts?limit=0", null, Json, 400, "" },
        { "event without an account", Target.BalancesDelivery, "POST", "", Event("""{"kind":"Deposited","sequence":9,"amount":5,"reference":"r","occurredAt":"2026-01-01T00:00:00Z"}"""), CloudEvent, 200, "DROP" },
        { "event with sequence -1", Target.BalancesDelivery, "POST", "", Event("""{"kind":"Deposited","accountId":"bad-a","sequence":-1,"amount":5,"reference":"r","occurredAt":"2026-01-01T00:00:00Z"}"""), CloudEvent, 200, "DROP" },
        { "event data is a string", Target.BalancesDelivery, "POST", "", Event("\"hello\""), CloudEvent, 200, "DROP" },
        { "CloudEvent is not JSON", Target.BalancesDelivery, "POST", "", "{\"specversion\": \"1.0\", \"data\": ", CloudEvent, 200, "DROP" },
        { "event without an account", Target.FraudDelivery, "POST", "", Event("""{"kind":"Withdrawn","sequence":9,"amount":5,"reference":"r","occurredAt":"2026-01-01T00:00:00Z"}"""), CloudEvent, 200, "DROP" },
        { "event with a negative amount", Target.FraudDelivery, "POST", "", Event("""{"kind":"Withdrawn","accountId":"bad-a","sequence":9,"amount":-5,"reference":"r","occurredAt":"2026-01-01T00:00:00Z"}"""), CloudEvent, 200, "DROP" },
        { "event time is not a time", Target.FraudDelivery, "POST", "", Event("""{"kind":"Withdrawn","accountId":"bad-a","sequence":9,"amount":5,"reference":"r","occurredAt":"yesterday"}"""), CloudEvent, 200, "DROP" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadInput_IsRefusedClearly_AndChangesNothing(string name, Target target, string method, string path, string? body, string contentType, int status, string names)
    {
        var before = await platform.SnapshotAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), platform.Address(target, path));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType);
        }

        using var response = await platform.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{name}: {(int)response.StatusCode} {response.Content.Headers.ContentType} {text[..Math.Min(text.Length, 400)]}");
        Assert.Equal(status, (int)response.StatusCode);
        var answer = JsonDocument.Parse(text).RootElement;
        if (status == 200)
        {
            Assert.Equal(names, answer.GetProperty("status").GetString());
        }
        else
        {
            // A ProblemDetails (RFC 9457) that says what is wrong; for refusals, the rule; for validation, the field.
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(status, answer.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(answer.GetProperty("title").GetString()));
            if (names.Length > 0)
            {
                var named = answer.TryGetProperty("rule", out var rule) ? rule.GetString() == names
                    : answer.TryGetProperty("code", out var code) ? code.GetString() == names
                    : answer.TryGetProperty("errors", out var errors) && errors.TryGetProperty(names, out _);
                Assert.True(named, $"the answer should name '{names}': {text}");
            }
        }

        Assert.Equal(before, await platform.SnapshotAsync());
    }

    private static string Event(string data) =>
        $$"""{"specversion":"1.0","id":"{{Guid.NewGuid()}}","source":"broken-publisher","type":"ledger.Deposited","datacontenttype":"application/json","pubsubname":"pubsub","topic":"ledger","data":{{data}}}""";

    private static string Oversize(int bytes) => $$"""{"amount": 5, "reference": "x20", "padding": "{{new string('x', bytes)}}"}""";

    /// <summary>Three services with a few accounts in known states, every event already projected.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private PlatformUnderTest _platform = null!;
        private string _balancesRoute = "";
        private string _fraudRoute = "";

        public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

        public Uri Address(Target target, string path) => target switch
        {
            Target.Ledger => new Uri(_platform.Invoke("ledger").BaseAddress!, path),
            Target.Balances => new Uri(_platform.Invoke("balances").BaseAddress!, path),
            Target.Fraud => new Uri(_platform.Invoke("fraud").BaseAddress!, path),
            Target.BalancesDelivery => new Uri($"http://127.0.0.1:{_platform.Balances!.Port}{_balancesRoute}{path}"),
            Target.FraudDelivery => new Uri($"http://127.0.0.1:{_platform.Fraud!.Port}{_fraudRoute}{path}"),
            _ => throw new ArgumentOutOfRangeException(nameof(target)),
        };

        public async Task InitializeAsync()
        {
            _platform = await PlatformUnderTest.StartAsync(new PlatformOptions(Balances: true, Fraud: true));
            _balancesRoute = await LedgerRouteAsync(_platform.Balances!.Port);
            _fraudRoute = await LedgerRouteAsync(_platform.Fraud!.Port);
            var ledger = _platform.Invoke("ledger");
            await Send(ledger.PostAsJsonAsync("accounts", new { accountId = "bad-a", owner = "alice", reference = "open-a" }));
            await Send(ledger.PostAsJsonAsync("accounts", new { accountId = "bad-b", owner = "bob", reference = "open-b" }));
            await Send(ledger.PostAsJsonAsync("accounts", new { accountId = "bad-closed", owner = "carol", reference = "open-c" }));
            await Send(ledger.PostAsJsonAsync("accounts/bad-a/deposits", new { amount = 100m, reference = "seed-a" }));
            await Send(ledger.PostAsJsonAsync("accounts/bad-a/deposits", new { amount = 5m, reference = "d-used" }));
            await Send(ledger.PostAsJsonAsync("transfers", new { fromAccountId = "bad-a", toAccountId = "bad-b", amount = 10m, reference = "t-used" }));
            await Send(ledger.PostAsJsonAsync("accounts/bad-closed/close", new { reference = "close-c" }));

            var events = (await Task.WhenAll(new[] { "bad-a", "bad-b", "bad-closed" }.Select(a => Consistency.LedgerAccountAsync(_platform, a)))).Sum(a => a.Sequence);
            await Poll.UntilAsync(async () => (long?)(await Consistency.BalancesTotalsAsync(_platform)).EventsApplied + (await Consistency.BalancesTotalsAsync(_platform)).EventsIgnored,
                n => n == events, $"Balances to apply all {events} events");
            await Poll.UntilAsync(async () => (long?)await FraudCountAsync("processed") + await FraudCountAsync("unrecognized"), n => n == events, $"fraud to process all {events} events");

            static async Task Send(Task<HttpResponseMessage> call)
            {
                using var response = await call;
                Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        /// <summary>Everything a bad request could have changed: the accounts and the directory, the read model, fraud's counts of what it applied.</summary>
        public async Task<string> SnapshotAsync()
        {
            var ledger = _platform.Invoke("ledger");
            var parts = new List<string> { await ledger.GetStringAsync("accounts") };
            foreach (var id in new[] { "bad-a", "bad-b", "bad-closed" })
            {
                parts.Add(await ledger.GetStringAsync($"accounts/{id}"));
                parts.Add(await ledger.GetStringAsync($"accounts/{id}/events"));
                parts.Add(await _platform.Invoke("balances").GetStringAsync($"accounts/{id}/balance"));
            }

            using (var none = await ledger.GetAsync("accounts/bad-none"))
            {
                parts.Add(none.StatusCode.ToString());
            }

            parts.Add(await _platform.Invoke("balances").GetStringAsync("totals"));
            parts.Add($"fraud processed {await FraudCountAsync("processed")}, alerts {await FraudCountAsync("alertsPublished")}");
            return string.Join('\n', parts);
        }

        /// <summary>Where the app wants <c>ledger</c> delivered, as it tells its sidecar on /dapr/subscribe.</summary>
        private async Task<string> LedgerRouteAsync(int port)
        {
            var subscriptions = await Http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{port}/dapr/subscribe");
            var ledger = subscriptions.EnumerateArray().Single(s => s.GetProperty("topic").GetString() == "ledger");
            var route = ledger.TryGetProperty("route", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!
                : ledger.GetProperty("routes").GetProperty("default").GetString()!;
            return route.StartsWith('/') ? route : "/" + route;
        }

        private async Task<long> FraudCountAsync(string name) =>
            (await _platform.Invoke("fraud").GetFromJsonAsync<JsonElement>("stats")).GetProperty(name).GetInt64();

        public async Task DisposeAsync()
        {
            Http.Dispose();
            await _platform.DisposeAsync();
        }
    }
}
