using Dapr;
using System.Diagnostics;
using Dapr.Client;
using Platform.Balances.Ledger;
using Platform.Balances.ReadModel;

namespace Platform.Balances.Rebuild;

/// <summary>How a rebuild ended.</summary>
public sealed record RebuildResult(int Generation, int PreviousGeneration, int Accounts, long Events);

/// <summary>
/// Recomputes the read model from the system of record (the ledger) into a fresh generation of keys, then
/// switches the pointer to it and deletes the old generation.
/// <para>
/// Events keep flowing meanwhile: the pointer says <c>rebuilding: n+1</c>, and every delivery applies its event to
/// both generations, with the same idempotent (account, sequence) logic the rebuild itself uses. The rebuild
/// reads each account from the ledger <em>after</em> setting that pointer, and the ledger appends an event before
/// publishing it, so an event is either already in the ledger when the rebuild reads the account, or is delivered
/// after the pointer changed and thus written to the new generation too. Nothing is paused; queries are served
/// from the old generation until the switch, which is one ETag-guarded write.
/// </para>
/// </summary>
public sealed class Rebuilder(DaprClient dapr, LedgerClient ledger, Projector projector, BalancesTelemetry telemetry, TimeProvider time, ILogger<Rebuilder> logger)
{
    // A rebuild whose replica died leaves the pointer saying "rebuilding"; after this long another may take over.
    private static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(10);

    private const int Parallelism = 4;

    // Deliveries that read the pointer just before the switch may still be writing the old generation; deleting it
    // only after this pause means they finish first (a new account is only created in a generation still in use).
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    /// <summary>Runs a rebuild to the end; null when another one is running.</summary>
    public async Task<RebuildResult?> RunAsync(CancellationToken ct)
    {
        var (pointer, etag) = await dapr.GetStateAndETagAsync<ModelPointer?>(Components.StateStore, Keys.Pointer, cancellationToken: ct);
        pointer ??= ModelPointer.Initial;
        if (pointer.Rebuilding is not null && pointer.RebuildStartedAt > time.GetUtcNow() - Abandoned)
        {
            return null;
        }

        var live = pointer.Generation;
        var next = pointer.HighestGeneration + 1;
        if (!await TrySavePointerAsync(pointer with { Rebuilding = next, RebuildStartedAt = time.GetUtcNow(), HighestGeneration = next }, etag, ct))
        {
            return null;
        }

        using var activity = BalancesTelemetry.ActivitySource.StartActivity("rebuild");
        activity?.SetTag("balances.generation", next);
        Log.RebuildStarted(logger, next, live);
        try
        {
            var accounts = await ledger.AccountsAsync(ct);
            long events = 0;
            await Parallel.ForEachAsync(accounts, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct },
                async (id, token) => Interlocked.Add(ref events, await projector.CatchUpAsync(next, id, token)));

            // The switch: only if the pointer is still ours (an operator may have taken over an abandoned rebuild).
            var (current, currentETag) = await dapr.GetStateAndETagAsync<ModelPointer?>(Components.StateStore, Keys.Pointer, cancellationToken: ct);
            if (current?.Rebuilding != next || !await TrySavePointerAsync(new ModelPointer(next, null, null, current.HighestGeneration), currentETag, ct))
            {
                throw new ConflictException($"another rebuild took over generation {next}");
            }

            telemetry.Rebuilds.Add(1, new KeyValuePair<string, object?>("result", "done"));
            Log.RebuildDone(logger, next, accounts.Count, events);
            await Task.Delay(Grace, time, ct);
            await DeleteGenerationAsync(live, ct);
            return new RebuildResult(next, live, accounts.Count, events);
        }
        catch (Exception e) when (e is LedgerUnavailableException or DaprException or ConflictException)
        {
            telemetry.Rebuilds.Add(1, new KeyValuePair<string, object?>("result", "failed"));
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            Log.RebuildFailed(logger, next, live, e.Message);
            await AbandonAsync(next, ct);
            throw;
        }
    }

    /// <summary>Clears "rebuilding" if it is still ours, then deletes what was built; the live generation never stopped serving.</summary>
    private async Task AbandonAsync(int generation, CancellationToken ct)
    {
        try
        {
            var (current, etag) = await dapr.GetStateAndETagAsync<ModelPointer?>(Components.StateStore, Keys.Pointer, cancellationToken: ct);
            if (current?.Rebuilding == generation && await TrySavePointerAsync(current with { Rebuilding = null, RebuildStartedAt = null }, etag, ct))
            {
                await Task.Delay(Grace, time, ct);
                await DeleteGenerationAsync(generation, ct);
            }
        }
        catch (DaprException e)
        {
            Log.CleanupFailed(logger, generation, e.Message);
        }
    }

    /// <summary>
    /// Deletes a generation that nothing reads any more. A delivery stalled for longer than the grace period between
    /// reading an account and writing it could still leave an orphaned key behind; it is never read.
    /// </summary>
    private async Task DeleteGenerationAsync(int generation, CancellationToken ct)
    {
        try
        {
            var accounts = await ledger.AccountsAsync(ct);
            await Parallel.ForEachAsync(accounts, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct }, async (id, token) =>
            {
                var account = await dapr.GetStateAsync<AccountDoc?>(Components.StateStore, Keys.Account(generation, id), cancellationToken: token);
                if (account is null)
                {
                    return;
                }

                var pages = account.StatementLines == 0 ? 0 : Keys.PageOf(account.StatementLines - 1);
                List<StateTransactionRequest> deletes =
                [
                    .. Enumerable.Range(1, pages).Select(p => Delete(Keys.Statement(generation, id, p))),
                    Delete(Keys.Account(generation, id)),
                ];
                await dapr.ExecuteStateTransactionAsync(Components.StateStore, deletes, cancellationToken: token);
            });
            await dapr.ExecuteStateTransactionAsync(Components.StateStore,
                [.. Enumerable.Range(0, Keys.TotalsShards).Select(s => Delete(Keys.Totals(generation, s)))], cancellationToken: ct);
        }
        catch (Exception e) when (e is LedgerUnavailableException or DaprException)
        {
            Log.CleanupFailed(logger, generation, e.Message);
        }
    }

    private static StateTransactionRequest Delete(string key) => new(key, null, StateOperationType.Delete);

    private async Task<bool> TrySavePointerAsync(ModelPointer pointer, string etag, CancellationToken ct)
    {
        try
        {
            if (string.IsNullOrEmpty(etag))
            {
                await dapr.SaveStateAsync(Components.StateStore, Keys.Pointer, pointer, new StateOptions { Concurrency = ConcurrencyMode.FirstWrite }, cancellationToken: ct);
                return true;
            }

            return await dapr.TrySaveStateAsync(Components.StateStore, Keys.Pointer, pointer, etag, cancellationToken: ct);
        }
        catch (DaprException e) when (Projector.IsConflict(e))
        {
            return false;
        }
    }
}
