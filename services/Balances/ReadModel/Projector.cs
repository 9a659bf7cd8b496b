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
public sealed class Projector(DaprClient dapr, LedgerClient ledger, BalancesTelemetry telemetry, ILogger<Projector> logger)
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
        try
        {
            var outcome = await ApplyAsync(evt, ct);
            activity?.SetTag("balances.outcome", outcome.ToString());
            return Answer(outcome == Outcome.Retry ? DeliveryStatus.Retry : DeliveryStatus.Success);
        }
        catch (LedgerUnavailableException e)
        {
            Log.LedgerUnavailable(logger, evt.AccountId, evt.Sequence, e.Message);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            return Answer(DeliveryStatus.Retry);
        }
        catch (DaprException e)
        {
            Log.StoreFailed(logger, evt.AccountId, evt.Sequence, e.Message);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            return Answer(DeliveryStatus.Retry);
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
    private async Task<bool> TryCommitAsync(int generation, string accountId, AccountDoc? before, string accountETag, List<LedgerEvent> batch, CancellationToken ct)
    {
        var account = before ?? AccountDoc.Empty(accountId);
        var shardIndex = Keys.ShardOf(accountId);
        var firstPage = Keys.PageOf(account.StatementLines);
        var lastPage = Keys.PageOf(account.StatementLines + batch.Count - 1);
        var pageReads = Enumerable.Range(firstPage, lastPage - firstPage + 1)
            .Select(p => dapr.GetStateAndETagAsync<StatementPage?>(Components.StateStore, Keys.Statement(generation, accountId, p), cancellationToken: ct))
            .ToList();
        var shardRead = dapr.GetStateAndETagAsync<TotalsShard?>(Components.StateStore, Keys.Totals(generation, shardIndex), cancellationToken: ct);
        await Task.WhenAll([.. pageReads, shardRead]);

        var pages = new Dictionary<int, (List<StatementLine> Lines, string ETag, bool Changed)>();
        for (var i = 0; i < pageReads.Count; i++)
        {
            var (page, etag) = pageReads[i].Result;
            pages[firstPage + i] = ([.. page?.Lines ?? []], etag, false);
        }

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

        var (shard, shardETag) = shardRead.Result;
        shard ??= TotalsShard.Empty(shardIndex);
        shard = shard with
        {
            Accounts = shard.Accounts + (before is null ? 1 : 0),
            Balance = Money.Of(shard.Balance + account.Balance - (before?.Balance ?? 0)),
            EventsApplied = shard.EventsApplied + applied,
            EventsIgnored = shard.EventsIgnored + ignored,
        };

        List<StateTransactionRequest> operations =
        [
            Upsert(Keys.Account(generation, accountId), account, accountETag),
            .. pages.Where(p => p.Value.Changed).Select(p => Upsert(Keys.Statement(generation, accountId, p.Key), new StatementPage(accountId, p.Key, p.Value.Lines), p.Value.ETag)),
            Upsert(Keys.Totals(generation, shardIndex), shard, shardETag),
        ];
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
        return true;
    }

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

/// <summary>Dapr's answer to a delivered event.</summary>
public sealed record DeliveryStatus(string Status)
{
    public static readonly DeliveryStatus Success = new("SUCCESS");
    public static readonly DeliveryStatus Retry = new("RETRY");
    public static readonly DeliveryStatus Drop = new("DROP");
}

/// <summary>An account kept changing under us for longer than we are willing to retry.</summary>
public sealed class ConflictException(string message) : Exception(message);
