using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.EndToEnd.Tests.Infrastructure;

namespace Platform.Ledger.Bench;

public sealed record Rate(int Count, TimeSpan Elapsed, int Errors, IReadOnlyList<double> LatencyMs)
{
    public double PerSecond => Count / Elapsed.TotalSeconds;
}

public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>The measured workloads: all through the ledger's sidecar, from <c>clients</c> concurrent clients.</summary>
public sealed class Workloads(PlatformUnderTest platform, int clients)
{
    private const string Probe = "probe";
    private readonly HttpClient _ledger = platform.Invoke("ledger");
    private readonly HttpClient _balances = platform.Invoke("balances");
    private readonly HttpClient _sidecar = new() { BaseAddress = new Uri(platform.SidecarEndpoint + "/"), Timeout = TimeSpan.FromSeconds(60) };
    private List<string> _accounts = [];
    private int _references;
    private ConcurrentBag<double> _depositMs = [];

    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    public async Task OpenAccountsAsync(int count)
    {
        _accounts = [.. Enumerable.Range(0, count).Select(i => $"b-{i:D3}")];
        await RunAsync(count + 1, async i =>
        {
            var id = i < count ? _accounts[i] : Probe;
            using var open = await _ledger.PostAsJsonAsync("accounts", new { accountId = id, owner = "bench", reference = $"open-{id}" });
            using var seed = await _ledger.PostAsJsonAsync($"accounts/{id}/deposits", new { amount = 1_000m, reference = $"seed-{id}" });
            return open.IsSuccessStatusCode && seed.IsSuccessStatusCode;
        });
    }

    public Task<Rate> RawInvokeAsync(int n) => RunAsync(n, async _ =>
    {
        using var response = await _ledger.GetAsync("alive");
        return response.IsSuccessStatusCode;
    });

    public Task<Rate> RawStateAndPublishAsync(int n) => RunAsync(n, async i =>
    {
        using var save = await _sidecar.PostAsJsonAsync("v1.0/state/statestore", new[] { new { key = $"raw-{i % 100}", value = new { balance = i, sequence = i } } });
        using var publish = await _sidecar.PostAsJsonAsync("v1.0/publish/pubsub/bench-raw", new { kind = "Deposited", accountId = $"raw-{i % 100}", sequence = i, amount = 1m });
        return save.IsSuccessStatusCode && publish.IsSuccessStatusCode;
    });

    /// <summary>The command mix of the end-to-end tests, plus a probe that measures how long its events take to show in Balances.</summary>
    public async Task<(Rate Run, List<double> LagMs, List<double> ObserverLagMs, List<double> DepositMs)> CommandsWithLagProbeAsync(int n)
    {
        _depositMs = [];
        var lag = new List<double>();
        var observerLag = new List<double>();
        using var stop = new CancellationTokenSource();
        var probe = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var deposit = await _ledger.PostAsJsonAsync($"accounts/{Probe}/deposits", new { amount = 0.01m, reference = $"probe-{Interlocked.Increment(ref _references)}" });
                var sequence = (await deposit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sequence").GetInt64();
                DateTimeOffset visible;
                while (true)
                {
                    var doc = await _balances.GetFromJsonAsync<JsonElement>($"accounts/{Probe}/balance");
                    if (doc.GetProperty("lastSequence").GetInt64() >= sequence)
                    {
                        visible = DateTimeOffset.UtcNow;
                        break;
                    }

                    await Task.Delay(2);
                }

                var events = await _ledger.GetFromJsonAsync<List<JsonElement>>($"accounts/{Probe}/events?fromSequence={sequence}");
                var occurredAt = events![0].GetProperty("occurredAt").GetDateTimeOffset();
                lag.Add((visible - occurredAt).TotalMilliseconds);
                var delivered = await Poll.UntilAsync(() => Task.FromResult<DateTimeOffset?>(platform.FirstDelivered.TryGetValue((Probe, sequence), out var at) ? at : null), at => at is not null, "the probe event at the observer");
                observerLag.Add((delivered!.Value - occurredAt).TotalMilliseconds);
            }
        });
        var run = await CommandsAsync(n);
        await stop.CancelAsync();
        await probe;
        return (run, lag, observerLag, [.. _depositMs]);
    }

    /// <summary>
    /// Kill Balances and stop the observer; run commands; bring each back alone and time how long it takes to catch up:
    /// in all, and from its first progress on (what is left once the broker's redelivery has started flowing).
    /// </summary>
    public async Task<(long Backlog, Drain Observer, Drain Balances)> BacklogDrainAsync(int n)
    {
        await platform.Balances!.KillAsync();
        await platform.StopObserverAsync();
        var before = await TotalEventsAsync();
        await CommandsAsync(n);
        var after = await TotalEventsAsync();

        // A consumer back from an outage finds its backlog older than processingTimeout, all of it ready to be claimed
        // again; here the outage is only as long as the commands, so let the last of them get that old too. Then the
        // drain measures the redelivery's and the consumer's speed, not the broker's timeout.
        await Task.Delay(PlatformUnderTest.ProcessingTimeout);
        await platform.StartObserverAsync();
        var observer = await DrainAsync(() => Task.FromResult((long)platform.FirstDelivered.Count), after, "the observer");

        await platform.Balances.StartAsync();
        var balances = await DrainAsync(async () =>
        {
            var totals = await _balances.GetFromJsonAsync<JsonElement>("totals");
            return totals.GetProperty("eventsApplied").GetInt64() + totals.GetProperty("eventsIgnored").GetInt64();
        }, after, "Balances");
        return (after - before, observer, balances);
    }

    private static async Task<Drain> DrainAsync(Func<Task<long>> count, long target, string who)
    {
        // The count before the first event is taken is the first one read (Balances answers once it is up again).
        var clock = Stopwatch.StartNew();
        long? start = null;
        (TimeSpan At, long Count)? first = null;
        await Poll.UntilAsync(async () =>
        {
            var now = await count();
            start ??= now;
            if (first is null && now > start)
            {
                first = (clock.Elapsed, now);
            }

            return (long?)now;
        }, c => c >= target, $"{who} to drain the backlog", seconds: 900);
        var total = clock.Elapsed;
        return new Drain(total, target - start!.Value, first is { } f ? (target - f.Count) / Math.Max(0.001, (total - f.At).TotalSeconds) : 0);
    }

    private async Task<long> TotalEventsAsync()
    {
        var all = await Task.WhenAll(_accounts.Append(Probe).Select(a => _ledger.GetFromJsonAsync<JsonElement>($"accounts/{a}")));
        return all.Sum(a => a.GetProperty("sequence").GetInt64());
    }

    /// <summary>The command mix, unmeasured: the JIT, connection pools and the sidecars' caches settle before anything counts.</summary>
    public Task<Rate> WarmUpAsync(int n) => CommandsAsync(n);

    private Task<Rate> CommandsAsync(int n) => RunAsync(n, async i =>
    {
        var random = new Random(i);
        var index = random.Next(_accounts.Count);
        var account = _accounts[index];
        var reference = $"cmd-{Interlocked.Increment(ref _references)}";
        var roll = random.Next(100);
        var started = Stopwatch.GetTimestamp();
        using var response = roll < 35
            ? await _ledger.PostAsJsonAsync($"accounts/{account}/deposits", new { amount = random.Next(100, 30_000) / 100m, reference })
            : roll < 65
                ? await _ledger.PostAsJsonAsync($"accounts/{account}/withdrawals", new { amount = random.Next(100, 90_000) / 100m, reference })
                : await _ledger.PostAsJsonAsync("transfers", new
                {
                    fromAccountId = account,
                    toAccountId = _accounts[(index + 1 + random.Next(_accounts.Count - 1)) % _accounts.Count],
                    amount = random.Next(100, 70_000) / 100m,
                    reference,
                });
        if (roll < 35)
        {
            _depositMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return response.IsSuccessStatusCode || response.StatusCode == System.Net.HttpStatusCode.Conflict;
    });

    private async Task<Rate> RunAsync(int n, Func<int, Task<bool>> operation)
    {
        var next = -1;
        var errors = 0;
        var latencies = new ConcurrentBag<double>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) is var i && i < n)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await operation(i))
                {
                    Interlocked.Increment(ref errors);
                }

                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })));
        if (errors > 0)
        {
            throw new InvalidOperationException($"{errors} of {n} operations failed");
        }

        return new Rate(n, clock.Elapsed, errors, [.. latencies]);
    }
}

/// <summary>A backlog drained: the time from the consumer's start to the last event, the events it had to take, and its rate once flowing.</summary>
public sealed record Drain(TimeSpan Took, long Events, double FlowingPerSecond)
{
    public double PerSecond => Events / Took.TotalSeconds;
}
