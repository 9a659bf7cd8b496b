using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.EndToEnd.Tests.Infrastructure;

namespace Platform.Ledger.Bench;

/// <summary>
/// Fills the ledger's system of record (its account actors' state) with a known history, as the ledger itself
/// stores it, so a large rebuild can be measured without first sending 100,000 commands. Written through the
/// ledger's sidecar (the actor state API), before any of these actors is active.
/// </summary>
public sealed class RebuildBench(PlatformUnderTest platform)
{
    private readonly HttpClient _sidecar = new() { BaseAddress = new Uri(platform.SidecarEndpoint + "/"), Timeout = TimeSpan.FromMinutes(30) };
    private readonly HttpClient _rebuild = new() { BaseAddress = new Uri($"{platform.SidecarEndpoint}/v1.0/invoke/balances/method/"), Timeout = TimeSpan.FromMinutes(30) };
    private List<string> _accounts = [];

    public async Task LoadAsync(int accounts, int eventsPerAccount)
    {
        _accounts = [.. Enumerable.Range(0, accounts).Select(i => $"rb-{i:D4}")];
        var opened = DateTimeOffset.UtcNow.AddDays(-1);
        await Parallel.ForEachAsync(_accounts, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (id, ct) =>
        {
            var operations = new List<object>();
            for (var s = 1; s <= eventsPerAccount; s++)
            {
                var at = opened.AddSeconds(s);
                object e = s == 1
                    ? new { kind = "AccountOpened", accountId = id, sequence = s, amount = (decimal?)null, reference = $"open-{id}", occurredAt = at, owner = (string?)"bench" }
                    : new { kind = "Deposited", accountId = id, sequence = s, amount = (decimal?)1.00m, reference = $"d-{s}", occurredAt = at, owner = (string?)null };
                operations.Add(new { operation = "upsert", request = new { key = $"event-{s:D12}", value = e } });
            }

            operations.Add(new { operation = "upsert", request = new { key = "account", value = new { owner = "bench", balance = eventsPerAccount - 1m, sequence = eventsPerAccount, openedAt = opened.AddSeconds(1), closed = false } } });
            operations.Add(new { operation = "upsert", request = new { key = "published", value = eventsPerAccount } });
            using var response = await _sidecar.PostAsJsonAsync($"v1.0/actors/AccountActor/{id}/state", operations, ct);
            response.EnsureSuccessStatusCode();
        });
        using var directory = await _sidecar.PostAsJsonAsync("v1.0/actors/AccountDirectoryActor/all/state",
            new[] { new { operation = "upsert", request = new { key = "accounts", value = _accounts } } });
        directory.EnsureSuccessStatusCode();
    }

    /// <summary>Every event read back through the ledger's API, as the rebuild reads them: the baseline.</summary>
    public async Task<TimeSpan> ReadAllAsync()
    {
        var ledger = platform.Invoke("ledger");
        var clock = Stopwatch.StartNew();
        long events = 0;
        await Parallel.ForEachAsync(_accounts, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) =>
        {
            var log = await ledger.GetFromJsonAsync<List<JsonElement>>($"accounts/{id}/events", ct);
            Interlocked.Add(ref events, log!.Count);
        });
        if (events != _accounts.Count * 1_000L)
        {
            throw new InvalidOperationException($"read {events} events back, expected {_accounts.Count * 1_000L}");
        }

        return clock.Elapsed;
    }

    public async Task<(TimeSpan Took, long Events)> RebuildAsync()
    {
        var clock = Stopwatch.StartNew();
        using var response = await _rebuild.PostAsync("rebuild", null);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"rebuild answered {(int)response.StatusCode}: {text}");
        }

        var took = clock.Elapsed;
        var events = JsonDocument.Parse(text).RootElement.GetProperty("events").GetInt64();
        var totals = await platform.Invoke("balances").GetFromJsonAsync<JsonElement>("totals");
        var expected = _accounts.Count * 999m;
        if (totals.GetProperty("totalBalance").GetDecimal() != expected)
        {
            throw new InvalidOperationException($"after the rebuild the read model holds {totals.GetProperty("totalBalance")}, expected {expected}");
        }

        return (took, events);
    }
}
