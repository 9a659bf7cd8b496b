using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Dapr;
using Dapr.Client;
using Platform.Balances.Ledger;

namespace Platform.Balances.ReadModel;

/// <summary>One entry of a bulk delivery: its id and the event it carries (the CloudEvent's <c>data</c>).</summary>
public sealed record BulkEvent(string EntryId, JsonElement Data);

/// <summary>
/// Bulk delivery (Dapr's bulk subscribe): the events of one delivery are applied together. Under load this is
/// what keeps the read model up with the ledger: one delivery of N events costs the pointer and accounts read (one
/// bulk read), the pages and shards read (one bulk read) and one transaction, instead of that per event, and the
/// events of one account in a delivery no longer race each other for its ETag.
/// </summary>
public sealed partial class Projector
{
    private const int MaxRemembered = 100_000;

    // Account id → statement lines, as last read or written by this replica (see ReadPointerAndAccountsAsync).
    private readonly ConcurrentDictionary<string, long> _statementLines = new(StringComparer.Ordinal);

    /// <summary>One bulk delivery from the <c>ledger</c> topic: a status per entry, as Dapr expects.</summary>
    public async Task<IReadOnlyList<(string EntryId, DeliveryStatus Status)>> HandleBulkAsync(IReadOnlyList<BulkEvent> entries, CancellationToken ct)
    {
        var events = new List<(string EntryId, LedgerEvent Event)>();
        var statuses = new Dictionary<string, DeliveryStatus>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (LedgerEvent.TryRead(entry.Data) is { } evt)
            {
                events.Add((entry.EntryId, evt));
            }
            else
            {
                Log.Malformed(logger, entry.Data.ValueKind == JsonValueKind.Object ? entry.Data.GetRawText() : entry.Data.ValueKind.ToString());
                statuses[entry.EntryId] = DeliveryStatus.Drop;
            }
        }

        using var activity = BalancesTelemetry.ActivitySource.StartActivity("apply ledger events", ActivityKind.Consumer);
        activity?.SetTag("balances.events", events.Count);
        Dictionary<string, Outcome> outcomes;
        try
        {
            outcomes = await ApplyBulkAsync(events.Select(e => e.Event).ToList(), ct);
        }
        catch (DaprException e)
        {
            Log.BulkStoreFailed(logger, events.Count, e.Message);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            outcomes = events.Select(e => e.Event.AccountId).Distinct().ToDictionary(id => id, _ => Outcome.Retry);
        }

        foreach (var (entryId, evt) in events)
        {
            statuses[entryId] = outcomes[evt.AccountId] == Outcome.Retry ? DeliveryStatus.Retry : DeliveryStatus.Success;
        }

        return [.. entries.Select(e => (e.EntryId, Answer(statuses[e.EntryId])))];
    }

    /// <summary>
    /// Applies the events, grouped by account, and answers an outcome per account. Accounts whose delivered events
    /// follow on from what the read model has are written together in one transaction; an account with a gap (or
    /// any account while a rebuild runs) goes the single-event way, which fills gaps from the ledger and writes both
    /// generations.
    /// </summary>
    private async Task<Dictionary<string, Outcome>> ApplyBulkAsync(IReadOnlyList<LedgerEvent> events, CancellationToken ct)
    {
        var outcomes = new Dictionary<string, Outcome>(StringComparer.Ordinal);
        var open = events.GroupBy(e => e.AccountId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.DistinctBy(e => e.Sequence).OrderBy(e => e.Sequence).ToList(), StringComparer.Ordinal);
        var copies = events.CountBy(e => e.AccountId, StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var alone = new List<string>();
        for (var conflicts = 0; open.Count > 0;)
        {
            var (pointer, accounts, prefetched) = await ReadPointerAndAccountsAsync(open, ct);
            if (pointer.Rebuilding is not null)
            {
                alone.AddRange(open.Keys);
                open.Clear();
                break;
            }

            var batches = new List<AccountBatch>();
            foreach (var (accountId, delivered) in open)
            {
                var (account, etag) = accounts[accountId];
                var last = account?.LastSequence ?? 0;
                var pending = delivered.Where(e => e.Sequence > last).ToList();
                if (pending.Count == 0)
                {
                    telemetry.Duplicates.Add(copies[accountId]);
                    outcomes[accountId] = Outcome.Duplicate;
                }
                else if (Contiguous(pending, last + 1).Count == pending.Count)
                {
                    batches.Add(new AccountBatch(accountId, account, etag, pending));
                }
                else
                {
                    alone.Add(accountId);
                }
            }

            foreach (var accountId in outcomes.Keys.Concat(alone))
            {
                open.Remove(accountId);
            }

            if (batches.Count == 0)
            {
                break;
            }

            // As in the single-event path: a new account written into a generation a rebuild has just retired would
            // only resurrect documents nobody reads. Read everything again under the new pointer.
            var committed = (batches.All(b => b.Before is not null) || await IsInUseAsync(pointer.Generation, ct))
                && await TryCommitAsync(pointer.Generation, batches, ct, prefetched);
            if (committed)
            {
                foreach (var batch in batches)
                {
                    outcomes[batch.AccountId] = Outcome.Applied;
                    if (copies[batch.AccountId] > batch.Events.Count)
                    {
                        telemetry.Duplicates.Add(copies[batch.AccountId] - batch.Events.Count);
                    }

                    open.Remove(batch.AccountId);
                }

                break;
            }

            if (++conflicts == MaxConflicts)
            {
                Log.GaveUp(logger, string.Join(",", open.Keys), MaxConflicts);
                break;
            }

            await Task.Delay(Random.Shared.Next(0, Math.Min(50, 2 * conflicts)), ct);
        }

        foreach (var accountId in open.Keys)
        {
            outcomes[accountId] = Outcome.Retry;
        }

        // One account at a time: their writes share totals shards, so running them side by side would only conflict.
        foreach (var accountId in alone)
        {
            var last = events.Where(e => e.AccountId == accountId).MaxBy(e => e.Sequence)!;
            outcomes[accountId] = await ApplyOrRetryAsync(last, ct);
        }

        return outcomes;
    }

    /// <summary>
    /// The pointer and the accounts in one bulk read, the accounts under the generation last seen (read again under the
    /// pointer's generation if a rebuild switched over meanwhile). The same read fetches, under that generation, the
    /// totals shards of these accounts and the statement pages their events will go to as far as this replica knows
    /// each account's statement length: returned as <c>Prefetched</c> for the commit, which reads only what is
    /// missing (a page guessed wrong because another replica wrote the account meanwhile).
    /// </summary>
    private async Task<(ModelPointer Pointer, Dictionary<string, (AccountDoc? Account, string ETag)> Accounts, Dictionary<string, BulkStateItem>? Prefetched)>
        ReadPointerAndAccountsAsync(IReadOnlyDictionary<string, List<LedgerEvent>> events, CancellationToken ct)
    {
        var ids = events.Keys.ToList();
        var guess = Volatile.Read(ref _lastGeneration);
        var pages = ids.Where(_statementLines.ContainsKey).SelectMany(id =>
        {
            var lines = _statementLines[id];
            return Enumerable.Range(Keys.PageOf(lines), Keys.PageOf(lines + events[id].Count - 1) - Keys.PageOf(lines) + 1).Select(p => Keys.Statement(guess, id, p));
        });
        var shards = ids.Select(Keys.ShardOf).Distinct().Select(i => Keys.Totals(guess, i));
        var read = await ReadManyAsync([Keys.Pointer, .. ids.Select(id => Keys.Account(guess, id)), .. shards, .. pages], ct);
        var pointer = Read<ModelPointer>(read, Keys.Pointer).Value ?? ModelPointer.Initial;
        Volatile.Write(ref _lastGeneration, pointer.Generation);
        var prefetched = read;
        if (pointer.Generation != guess)
        {
            read = await ReadManyAsync([.. ids.Select(id => Keys.Account(pointer.Generation, id))], ct);
            prefetched = null;
        }

        var accounts = ids.ToDictionary(id => id, id => Read<AccountDoc>(read, Keys.Account(pointer.Generation, id)), StringComparer.Ordinal);
        RememberStatementLines(accounts.Values.Select(a => a.Value).OfType<AccountDoc>());
        return (pointer, accounts, prefetched);
    }

    /// <summary>How long each account's statement is, as this replica last saw it: where its next events' lines go.</summary>
    private void RememberStatementLines(IEnumerable<AccountDoc> accounts)
    {
        if (_statementLines.Count > MaxRemembered)
        {
            _statementLines.Clear(); // only a guess: forgetting costs one more read per account, never a wrong write
        }

        foreach (var account in accounts)
        {
            _statementLines[account.AccountId] = account.StatementLines;
        }
    }
}
