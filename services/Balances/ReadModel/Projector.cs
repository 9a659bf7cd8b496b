using Dapr;
using System.Diagnostics;
using System.Text.Json;
using Dapr.Client;
using Grpc.Core;
using Platform.Balances.Ledger;

namespace Platform.Balances.ReadModel;

/// <summary>What a delivery amounts to.</summary>
public enum Outcome
{
    Applied,
    Duplicate,
    Retry,
}

/// <summary>
/// Applies ledger events to the read model, idempotently by (account, sequence). Each account document carries
/// its last applied sequence and is written with its ETag, together with the statement pages and the account's
/// totals shard, in one state transaction: either the event is in all of them or in none. A conflict means
/// another consumer (a replica, or another worker of this one) wrote first; we read again and decide again.
/// </summary>
public sealed partial class Projector(DaprClient dapr, LedgerClient ledger, BalancesTelemetry telemetry, ILogger<Projector> logger)
{
    private const int MaxConflicts = 50;

    // Large enough to heal any usual gap in one write, small enough to keep one transaction's payload modest.
    private const int MaxEventsPerTransaction = 200;

    // The live generation last read from the pointer: the account is read under it while the pointer is read, and
    // read again only if the pointer names another one (a rebuild switched over meanwhile).
    private int _lastGeneration;

    /// <summary>One delivery from the <c>ledger</c> topic, answered as Dapr expects.</summary>
    public async Task<DeliveryStatus> HandleAsync(JsonElement data, CancellationToken ct)
    {
        var evt = LedgerEvent.TryRead(data);
        if (evt is null)
        {
            // Nothing could ever apply it, so redelivering would loop forever: drop it (to the dead-letter topic if one is set).
            Log.Malformed(logger, data.ValueKind == JsonValueKind.Object ? data.GetRawText() : data.ValueKind.ToString());
            return Answer(DeliveryStatus.Drop);
        }

        using var activity = BalancesTelemetry.ActivitySource.StartActivity("apply ledger event", ActivityKind.Consumer);
        activity?.SetTag("balances.account_id", evt.AccountId);
        activity?.SetTag("balances.sequence", evt.Sequence);
        var outcome = await ApplyOrRetryAsync(evt, ct);
        activity?.SetTag("balances.outcome", outcome.ToString());
        return Answer(outcome == Outcome.Retry ? DeliveryStatus.Retry : DeliveryStatus.Success);
    }

    /// <summary>Applies one event; a ledger or state store that fails means RETRY (logged, and marked on the current activity).</summary>
    private async Task<Outcome> ApplyOrRetryAsync(LedgerEvent evt, CancellationToken ct)
    {
        try
        {
            return await ApplyAsync(evt, ct);
        }
        catch (LedgerUnavailableException e)
        {
            Log.LedgerUnavailable(logger, evt.AccountId, evt.Sequence, e.Message);
            Activity.Current?.SetStatus(ActivityStatusCode.Error, e.Message);
            return Outcome.Retry;
        }
        catch (DaprException e)
        {
            Log.StoreFailed(logger, evt.AccountId, evt.Sequence, e.Message);
            Activity.Current?.SetStatus(ActivityStatusCode.Error, e.Message);
            return Outcome.Retry;
        }
    }

    private DeliveryStatus Answer(DeliveryStatus status)
    {
        telemetry.Deliveries.Add(1, new KeyValuePair<string, object?>("status", status.Status));
        return status;
    }

    /// <summary>Applies a delivered event to the live generation and, while a rebuild runs, to the one being built.</summary>
    public async Task<Outcome> ApplyAsync(LedgerEvent evt, CancellationToken ct)
    {
        var guess = Volatile.Read(ref _lastGeneration);
        var early = LoadAsync(guess, evt.AccountId, ct);
        ModelPointer pointer;
        try
        {
            pointer = await ModelPointer.ReadAsync(dapr, ct);
        }
        finally
        {
            await Task.WhenAny(early); // never left unobserved
        }

        Volatile.Write(ref _lastGeneration, pointer.Generation);
        var outcome = await AdvanceAsync(pointer.Generation, evt.AccountId, evt, ct, pointer.Generation == guess && early.IsCompletedSuccessfully ? early.Result : null);
        if (outcome != Outcome.Retry && pointer.Rebuilding is { } next && await AdvanceAsync(next, evt.AccountId, evt, ct) == Outcome.Retry)
        {
            // The live generation has it; the redelivery will find it there as a duplicate and retry only the new one.
            return Outcome.Retry;
        }

        if (outcome == Outcome.Duplicate)
        {
            telemetry.Duplicates.Add(1);
        }

        return outcome;
    }

    /// <summary>Brings one account of a generation up to the ledger's latest event (the rebuild's step). Returns its last sequence.</summary>
    public async Task<long> CatchUpAsync(int generation, string accountId, CancellationToken ct)
    {
        if (await AdvanceAsync(generation, accountId, delivered: null, ct) == Outcome.Retry)
        {
            throw new ConflictException($"account {accountId} kept changing under the rebuild ({MaxConflicts} conflicts)");
        }

        var (account, _) = await LoadAsync(generation, accountId, ct);
        return account?.LastSequence ?? 0;
    }

    /// <summary>
    /// Brings the account up to <paramref name="delivered"/>'s sequence (or, with none, to the ledger's latest), in
    /// sequence order only. The delivered event is used as is when it is the next one; a gap before it is filled
    /// from the ledger, never skipped, and the ledger not answering means RETRY.
    /// </summary>
    private async Task<Outcome> AdvanceAsync(int generation, string accountId, LedgerEvent? delivered, CancellationToken ct,
        (AccountDoc? Account, string ETag)? firstRead = null)
    {
        var target = delivered?.Sequence ?? long.MaxValue;
        IReadOnlyList<LedgerEvent> pending = delivered is null ? [] : [delivered];
        var committed = false;
        var fetched = false;
        for (var conflicts = 0; ;)
        {
            var (account, etag) = firstRead ?? await LoadAsync(generation, accountId, ct);
            firstRead = null;
            var last = account?.LastSequence ?? 0;
            if (last >= target)
            {
                return committed ? Outcome.Applied : Outcome.Duplicate;
            }

            pending = [.. pending.SkipWhile(e => e.Sequence <= last)];
            if (pending.Count == 0 || pending[0].Sequence != last + 1)
            {
                if (delivered is not null && !fetched)
                {
                    Log.Gap(logger, accountId, last + 1, delivered.Sequence - 1, generation);
                    telemetry.GapsHealed.Add(1);
                }

                pending = Contiguous(await ledger.EventsAsync(accountId, last + 1, ct), last + 1);
                fetched = true;
                if (delivered is null && pending.Count == 0)
                {
                    return committed ? Outcome.Applied : Outcome.Duplicate;
                }

                if (delivered is not null && (pending.Count == 0 || pending[^1].Sequence < target))
                {
                    // The ledger has not got (or lost) what was delivered: never apply out of order, ask again later.
                    Log.LedgerBehind(logger, accountId, delivered.Sequence, pending.Count == 0 ? last : pending[^1].Sequence);
                    return Outcome.Retry;
                }
            }

            if (account is null && !await IsInUseAsync(generation, ct))
            {
                // A delivery that read the pointer before a rebuild switched over, and found the account already
                // deleted with the old generation: writing would only resurrect documents nobody reads.
                return committed ? Outcome.Applied : Outcome.Duplicate;
            }

            var batch = pending.Take(MaxEventsPerTransaction).ToList();
            if (await TryCommitAsync(generation, accountId, account, etag, batch, ct))
            {
                committed = true;
                if (batch[^1].Sequence >= target)
                {
                    return Outcome.Applied; // the transaction wrote up to the target: reading the account back would only say so
                }

                continue;
            }

            if (++conflicts == MaxConflicts)
            {
                Log.GaveUp(logger, accountId, MaxConflicts);
                return Outcome.Retry;
            }

            // Someone else wrote this account (or its totals shard) first: read again, after a short jittered pause
            // so that competing consumers stop colliding in lockstep.
            await Task.Delay(Random.Shared.Next(0, Math.Min(50, 2 * conflicts)), ct);
        }
    }

    /// <summary>Sequence order from <paramref name="from"/> on, stopping at the first hole; duplicates removed.</summary>
    private static List<LedgerEvent> Contiguous(IEnumerable<LedgerEvent> events, long from)
    {
        var result = new List<LedgerEvent>();
        foreach (var e in events.Where(e => e.Sequence >= from).OrderBy(e => e.Sequence))
        {
            if (e.Sequence == from + result.Count)
            {
                result.Add(e);
            }
            else if (e.Sequence > from + result.Count)
            {
                break;
            }
        }

        return result;
    }

    private async Task<bool> IsInUseAsync(int generation, CancellationToken ct) =>
        await ModelPointer.ReadAsync(dapr, ct) is var pointer && (pointer.Generation == generation || pointer.Rebuilding == generation);

    private async Task<(AccountDoc? Account, string ETag)> LoadAsync(int generation, string accountId, CancellationToken ct) =>
        await dapr.GetStateAndETagAsync<AccountDoc?>(Components.StateStore, Keys.Account(generation, accountId), cancellationToken: ct);

    /// <summary>Writes the batch (which starts right after the account's last sequence) in one transaction; false on an ETag conflict.</summary>
    private Task<bool> TryCommitAsync(int generation, string accountId, AccountDoc? before, string accountETag, List<LedgerEvent> batch, CancellationToken ct) =>
        TryCommitAsync(generation, [new AccountBatch(accountId, before, accountETag, batch)], ct);

    /// <summary>
    /// Applies each account's events (each list starts right after that account's last sequence) and writes every
    /// account, the statement pages they touch and their totals shards in one transaction, each document guarded by
    /// the ETag it was read with; false on an ETag conflict (nothing written). The pages and shards are read in one
    /// bulk read, except those already read with the accounts (<paramref name="prefetched"/>, same generation).
    /// </summary>
    private async Task<bool> TryCommitAsync(int generation, IReadOnlyList<AccountBatch> accounts, CancellationToken ct,
        Dictionary<string, BulkStateItem>? prefetched = null)
    {
        var pageKeys = accounts.SelectMany(a => PagesOf(a).Select(p => Keys.Statement(generation, a.AccountId, p)));
        var shardIndexes = accounts.Select(a => Keys.ShardOf(a.AccountId)).Distinct().ToList();
        var read = prefetched is null ? [] : new Dictionary<string, BulkStateItem>(prefetched, StringComparer.Ordinal);
        var missing = pageKeys.Concat(shardIndexes.Select(i => Keys.Totals(generation, i))).Where(k => !read.ContainsKey(k)).ToList();
        if (missing.Count > 0)
        {
            foreach (var (key, item) in await ReadManyAsync(missing, ct))
            {
                read[key] = item;
            }
        }

        var operations = new List<StateTransactionRequest>();
        var written = new List<AccountDoc>();
        var shards = shardIndexes.ToDictionary(i => i, i =>
        {
            var (shard, etag) = Read<TotalsShard>(read, Keys.Totals(generation, i));
            return (Shard: shard ?? TotalsShard.Empty(i), ETag: etag);
        });
        long applied = 0, ignored = 0;
        foreach (var batch in accounts)
        {
            var pages = PagesOf(batch).ToDictionary(p => p, p =>
            {
                var (page, etag) = Read<StatementPage>(read, Keys.Statement(generation, batch.AccountId, p));
                return (Lines: new List<StatementLine>(page?.Lines ?? []), ETag: etag, Changed: false);
            });
            var (account, accountApplied, accountIgnored) = Fold(batch.Before, batch.AccountId, pages, batch.Events);
            applied += accountApplied;
            ignored += accountIgnored;
            var shardIndex = Keys.ShardOf(batch.AccountId);
            var (shard, shardETag) = shards[shardIndex];
            shards[shardIndex] = (shard with
            {
                Accounts = shard.Accounts + (batch.Before is null ? 1 : 0),
                Balance = Money.Of(shard.Balance + account.Balance - (batch.Before?.Balance ?? 0)),
                EventsApplied = shard.EventsApplied + accountApplied,
                EventsIgnored = shard.EventsIgnored + accountIgnored,
            }, shardETag);
            operations.Add(Upsert(Keys.Account(generation, batch.AccountId), account, batch.ETag));
            written.Add(account);
            operations.AddRange(pages.Where(p => p.Value.Changed).Select(p => Upsert(Keys.Statement(generation, batch.AccountId, p.Key), new StatementPage(batch.AccountId, p.Key, p.Value.Lines), p.Value.ETag)));
        }

        operations.AddRange(shards.Select(s => Upsert(Keys.Totals(generation, s.Key), s.Value.Shard, s.Value.ETag)));
        try
        {
            await dapr.ExecuteStateTransactionAsync(Components.StateStore, operations, cancellationToken: ct);
        }
        catch (DaprException e) when (IsConflict(e))
        {
            telemetry.Conflicts.Add(1);
            return false;
        }

        telemetry.Applied.Add(applied, new KeyValuePair<string, object?>("generation", generation));
        telemetry.Ignored.Add(ignored);
        RememberStatementLines(written);
        return true;
    }

    /// <summary>The statement pages an account's events will write to.</summary>
    private static IEnumerable<int> PagesOf(AccountBatch batch)
    {
        var lines = batch.Before?.StatementLines ?? 0;
        var first = Keys.PageOf(lines);
        return Enumerable.Range(first, Keys.PageOf(lines + batch.Events.Count - 1) - first + 1);
    }

    /// <summary>The account after <paramref name="batch"/>, with its statement lines added to <paramref name="pages"/>.</summary>
    private (AccountDoc Account, long Applied, long Ignored) Fold(AccountDoc? before, string accountId,
        Dictionary<int, (List<StatementLine> Lines, string ETag, bool Changed)> pages, IReadOnlyList<LedgerEvent> batch)
    {
        var account = before ?? AccountDoc.Empty(accountId);
        long applied = 0, ignored = 0;
        foreach (var e in batch)
        {
            if (e.Effect() is not { } delta)
            {
                Log.Ignored(logger, accountId, e.Sequence, e.Kind ?? "(none)");
                ignored++;
                account = account with { LastSequence = e.Sequence, UpdatedAt = e.OccurredAt ?? account.UpdatedAt };
                continue;
            }

            var balance = Money.Of(account.Balance + delta);
            var page = Keys.PageOf(account.StatementLines);
            var entry = pages[page];
            entry.Lines.Add(new StatementLine(e.Sequence, e.Kind!, delta, balance, e.Reference, e.OccurredAt, e.CounterpartyId));
            pages[page] = entry with { Changed = true };
            var opened = e.Kind == LedgerEvent.AccountOpened;
            account = account with
            {
                Owner = opened ? e.Owner ?? account.Owner : account.Owner,
                OpenedAt = opened ? e.OccurredAt ?? account.OpenedAt : account.OpenedAt,
                Balance = balance,
                LastSequence = e.Sequence,
                UpdatedAt = e.OccurredAt ?? account.UpdatedAt,
                StatementLines = account.StatementLines + 1,
            };
            applied++;
        }

        return (account, applied, ignored);
    }

    /// <summary>Several documents in one bulk read, by key: the raw JSON (empty for a missing key) and its ETag.</summary>
    private async Task<Dictionary<string, BulkStateItem>> ReadManyAsync(IReadOnlyList<string> keys, CancellationToken ct) =>
        (await dapr.GetBulkStateAsync(Components.StateStore, keys, parallelism: null, cancellationToken: ct)).ToDictionary(i => i.Key, StringComparer.Ordinal);

    private (T? Value, string ETag) Read<T>(Dictionary<string, BulkStateItem> read, string key) where T : class =>
        !read.TryGetValue(key, out var item) ? (null, "")
        : (string.IsNullOrEmpty(item.Value) ? null : JsonSerializer.Deserialize<T>(item.Value, dapr.JsonSerializerOptions), item.ETag ?? "");

    /// <summary>
    /// An upsert guarded by the ETag we read; a document we found missing is written first-write, so a concurrent
    /// creator makes us lose rather than overwrite.
    /// </summary>
    private StateTransactionRequest Upsert<T>(string key, T value, string etag) =>
        new(key, JsonSerializer.SerializeToUtf8Bytes(value, dapr.JsonSerializerOptions), StateOperationType.Upsert,
            string.IsNullOrEmpty(etag) ? null : etag,
            options: string.IsNullOrEmpty(etag) ? new StateOptions { Concurrency = ConcurrencyMode.FirstWrite } : null);

    // daprd answers a refused ETag with Aborted (or, for transactions on some stores, an error naming the ETag).
    internal static bool IsConflict(DaprException e) =>
        e.InnerException is RpcException { StatusCode: StatusCode.Aborted or StatusCode.FailedPrecondition }
        || e.Message.Contains("etag", StringComparison.OrdinalIgnoreCase)
        || e.InnerException?.Message.Contains("etag", StringComparison.OrdinalIgnoreCase) == true;
}

/// <summary>Events of one account to apply in order, from right after <see cref="Before"/>'s last sequence.</summary>
internal sealed record AccountBatch(string AccountId, AccountDoc? Before, string ETag, IReadOnlyList<LedgerEvent> Events);

/// <summary>Dapr's answer to a delivered event.</summary>
public sealed record DeliveryStatus(string Status)
{
    public static readonly DeliveryStatus Success = new("SUCCESS");
    public static readonly DeliveryStatus Retry = new("RETRY");
    public static readonly DeliveryStatus Drop = new("DROP");
}

/// <summary>An account kept changing under us for longer than we are willing to retry.</summary>
public sealed class ConflictException(string message) : Exception(message);
