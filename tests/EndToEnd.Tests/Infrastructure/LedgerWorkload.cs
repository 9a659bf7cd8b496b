using System.Collections.Concurrent;
using System.Globalization;

namespace Platform.EndToEnd.Tests.Infrastructure;

/// <summary>What the clients saw.</summary>
public sealed class WorkloadResult
{
    public int Accepted;
    public int Refused;
    public ConcurrentDictionary<string, int> RefusalsByRule { get; } = new();
    public ConcurrentQueue<string> Unexpected { get; } = new();
    public ConcurrentDictionary<string, string> TransferOutcomes { get; } = new();

    /// <summary>Commands that got no answer from the ledger (with <see cref="InDoubt.Record"/>): path and body, to send again.</summary>
    public ConcurrentQueue<(string Path, object Body)> InDoubt { get; } = new();
}

/// <summary>What a client does when the ledger gives no answer (a transport error or a 5xx from the sidecar).</summary>
public enum InDoubt
{
    /// <summary>Count it as unexpected: nothing is being killed.</summary>
    Fail,

    /// <summary>Keep it for later and go on.</summary>
    Record,
}

/// <summary>
/// Concurrent clients sending deposits, withdrawals (some overdrawing) and transfers (some overdrawing) to the
/// ledger through a sidecar. Every answer must be a success or a clean 409 ProblemDetails naming its rule.
/// With <c>retryInDoubt</c> a client that gets no answer (the ledger died under it) sends the same command with
/// the same reference again until it gets one — the contract idempotent references exist for.
/// </summary>
public sealed class LedgerWorkload(HttpClient ledger, IReadOnlyList<string> accounts, int seed)
{
    private int _sent;
    private volatile bool _stopped;

    /// <summary>Commands answered so far (watched by tests that kill processes mid-run).</summary>
    public int Completed => Volatile.Read(ref _completed);

    private int _completed;

    public static async Task<IReadOnlyList<string>> OpenAccountsAsync(HttpClient ledger, int count, decimal initialDeposit, string prefix)
    {
        var ids = Enumerable.Range(0, count).Select(i => $"{prefix}-{i:D3}").ToList();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, ct) =>
        {
            using var open = await ledger.PostAsJsonAsync("accounts", new { accountId = id, owner = $"owner-{id}", reference = $"open-{id}" }, ct);
            Assert.True(open.StatusCode == HttpStatusCode.Created, $"open {id}: {(int)open.StatusCode} {await open.Content.ReadAsStringAsync(ct)}");
            if (initialDeposit > 0)
            {
                using var deposit = await ledger.PostAsJsonAsync($"accounts/{id}/deposits", new { amount = initialDeposit, reference = $"seed-{id}" }, ct);
                Assert.True(deposit.IsSuccessStatusCode, $"seed {id}: {(int)deposit.StatusCode} {await deposit.Content.ReadAsStringAsync(ct)}");
            }
        });
        return ids;
    }

    /// <summary>No new commands from now on; those in flight finish.</summary>
    public void Stop() => _stopped = true;

    public async Task<WorkloadResult> RunAsync(int commands, int clients, bool transfersOnly = false, InDoubt inDoubt = InDoubt.Fail)
    {
        var result = new WorkloadResult();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(seed * 1000 + c);
            while (!_stopped && Interlocked.Increment(ref _sent) is var n && n <= commands)
            {
                var (path, body, kind) = Next(random, n, transfersOnly);
                await SendAsync(path, body, kind, result, inDoubt);
                Interlocked.Increment(ref _completed);
            }
        })));
        return result;
    }

    private (string Path, object Body, string Kind) Next(Random random, int n, bool transfersOnly)
    {
        var index = random.Next(accounts.Count);
        var account = accounts[index];
        var roll = transfersOnly ? 100 : random.Next(100);
        var reference = $"c{seed}-{n}";
        if (roll < 35)
        {
            return ($"accounts/{account}/deposits", new { amount = Cents(random, 100, 30_000), reference }, "deposit");
        }

        if (roll < 65)
        {
            // Up to 900.00 against balances that hover around 1,000: some of these overdraw.
            return ($"accounts/{account}/withdrawals", new { amount = Cents(random, 100, 90_000), reference }, "withdrawal");
        }

        var to = accounts[(index + 1 + random.Next(accounts.Count - 1)) % accounts.Count];
        return ("transfers", new { fromAccountId = account, toAccountId = to, amount = Cents(random, 100, 70_000), reference }, "transfer");
    }

    private static decimal Cents(Random random, int min, int max) => random.Next(min, max) / 100m;

    /// <summary>Sends one command and files its answer.</summary>
    public async Task SendAsync(string path, object body, string kind, WorkloadResult result, InDoubt inDoubt)
    {
        HttpResponseMessage response;
        try
        {
            response = await ledger.PostAsJsonAsync(path, body);
        }
        catch (Exception e) when (inDoubt == InDoubt.Record && e is HttpRequestException or TaskCanceledException)
        {
            result.InDoubt.Enqueue((path, body));
            return;
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref result.Accepted);
                if (kind == "transfer")
                {
                    result.TransferOutcomes[Reference(body)] = JsonDocument.Parse(text).RootElement.GetProperty("status").GetString()!;
                }

                return;
            }

            if (response.StatusCode == HttpStatusCode.Conflict && IsCleanProblem(response, text, out var rule))
            {
                Interlocked.Increment(ref result.Refused);
                result.RefusalsByRule.AddOrUpdate(rule, 1, (_, v) => v + 1);
                if (kind == "transfer")
                {
                    result.TransferOutcomes[Reference(body)] = "rejected";
                }

                return;
            }

            if (inDoubt == InDoubt.Record && (int)response.StatusCode >= 500)
            {
                // No answer from the ledger itself (its sidecar could not reach it): the command may or may not have happened.
                result.InDoubt.Enqueue((path, body));
                return;
            }

            result.Unexpected.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{kind} {path}: {(int)response.StatusCode} {response.Content.Headers.ContentType} {text}"));
        }
    }

    private static string Reference(object body) => (string)body.GetType().GetProperty("reference")!.GetValue(body)!;

    /// <summary>application/problem+json with status 409, a title, a detail and the rule it broke.</summary>
    public static bool IsCleanProblem(HttpResponseMessage response, string text, out string rule)
    {
        rule = "";
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return false;
        }

        var problem = JsonDocument.Parse(text).RootElement;
        if (problem.TryGetProperty("rule", out var r) && r.GetString() is { Length: > 0 } name
            && problem.TryGetProperty("status", out var s) && s.GetInt32() == (int)response.StatusCode
            && problem.TryGetProperty("detail", out var d) && d.GetString() is { Length: > 0 })
        {
            rule = name;
            return true;
        }

        return false;
    }
}
