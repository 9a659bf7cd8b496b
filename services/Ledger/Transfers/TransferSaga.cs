using Dapr.Actors;
using Dapr.Actors.Client;
using Platform.Ledger.Accounts;

namespace Platform.Ledger.Transfers;

/// <summary>
/// Drives a transfer from outside every actor turn (the API's request, or a task the resume reminder starts):
/// begin it, then call the leg its step calls for until it is final. It only asks; the accounts apply their legs
/// and record them with the transfer actor, which decides what is due. Every call is idempotent (a leg's
/// reference is <c>{transferId}:{leg}</c>), so two drivers of one transfer, or one resumed after a crash, agree.
/// </summary>
/// <remarks>
/// No actor waits on another that could be waiting on it: accounts call only transfer actors, transfer actors call
/// nobody, and this class holds no turn. So no set of concurrent transfers, however crossed (A→B with B→A), can deadlock.
/// </remarks>
public sealed class TransferSaga(IActorProxyFactory actors)
{
    public async Task<TransferResult> RunAsync(string transferId, TransferRequest request) =>
        await DriveAsync(transferId, await Transfer(transferId).BeginAsync(request));

    public async Task<TransferResult?> ResumeAsync(string transferId) =>
        await Transfer(transferId).GetAsync() is { Request: not null } p ? await DriveAsync(transferId, p) : null;

    private async Task<TransferResult> DriveAsync(string transferId, TransferProgress p)
    {
        string? stored = null; // the step whose leg this drive saw its account store
        while (p.Result is null)
        {
            var step = p.Step;
            var outcome = await LegAsync(transferId, p.Request!, step);
            stored = outcome.Accepted ? step : null;
            p = await Transfer(transferId).GetAsync();
            if (p.Result is null && p.Step == step)
            {
                // The leg's account did not record it (it failed before it could): the resume reminder tries again.
                throw new InvalidOperationException($"transfer {transferId} did not move on from '{step}'");
            }
        }

        // The last leg was decided by the transfer before its account stored it: make sure it is stored (the call is
        // idempotent, and skipped when this drive just saw it stored), then let the transfer drop its reminder.
        if (!p.Done && p.Step is Steps.Completed or Steps.Compensated)
        {
            var lastLeg = p.Step == Steps.Completed ? Steps.Debited : Steps.Compensating;
            if (stored != lastLeg && !(await LegAsync(transferId, p.Request!, lastLeg)).Accepted)
            {
                throw new InvalidOperationException($"transfer {transferId} is {p.Step} but its last leg was not stored");
            }

            await Transfer(transferId).SettleAsync();
        }

        return p.Result;
    }

    /// <summary>The leg a transfer at <paramref name="step"/> calls for.</summary>
    private Task<CommandResult> LegAsync(string transferId, TransferRequest request, string step)
    {
        var (from, to, amount) = (request.FromAccountId, request.ToAccountId, request.Amount);
        return step switch
        {
            Steps.Started => Account(from).DebitForTransferAsync(new TransferLeg(transferId, to, amount, LedgerRules.LegReference(transferId, LegKinds.Debit))),
            Steps.Debited => Account(to).CreditForTransferAsync(new TransferLeg(transferId, from, amount, LedgerRules.LegReference(transferId, LegKinds.Credit))),
            Steps.Compensating => Account(from).CompensateAsync(new TransferLeg(transferId, to, amount, LedgerRules.LegReference(transferId, LegKinds.Compensate))),
            _ => throw new InvalidOperationException($"transfer {transferId} is at an unknown step '{step}'"),
        };
    }

    private ITransferActor Transfer(string transferId) => actors.Transfer(transferId);

    private IAccountActor Account(string accountId) => actors.Account(accountId);
}
