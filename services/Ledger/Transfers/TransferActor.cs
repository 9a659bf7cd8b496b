using Dapr.Actors.Runtime;
using Microsoft.Extensions.Options;

namespace Platform.Ledger.Transfers;

/// <summary>
/// A transfer's record and its authority (see <see cref="ITransferActor"/>). Steps: started → debited → completed,
/// or debited → compensating → compensated, or started → rejected. Every step is moved by the account whose leg
/// it is, in that account's turn, so a leg is applied only when its transfer is at the step that calls for it:
/// a credit only after the debit was stored, a compensation only after the credit was refused for good, and
/// never both. A <c>resume</c> reminder, registered with the transfer and removed when it is final, finishes a
/// transfer whose driver died midway; it starts <see cref="TransferSaga"/> on a task of its own rather than
/// driving it in the reminder's turn, because the legs call back into this actor (which is not reentrant).
/// </summary>
internal sealed partial class TransferActor(ActorHost host, IOptions<LedgerOptions> options, ILogger<TransferActor> logger) : Actor(host), ITransferActor, IRemindable
{
    private const string Key = "transfer";
    private const string ResumeReminder = "resume";

    /// <summary>
    /// As stored (the shape extends the saga that drove itself, so transfers in flight carry over). <see cref="Settled"/>:
    /// the account of the last leg has confirmed it stored it. A credit or compensation is decided here before its
    /// account stores it, so a process that dies in between leaves a final transfer whose last leg is still to be
    /// applied: until it is settled the resume reminder stays and the saga applies that leg again (idempotently).
    /// </summary>
    private sealed record Progress(TransferRequest Request, string Step, TransferResult? Result, string? CreditError = null, bool Settled = false)
    {
        public bool Done => Step == Steps.Rejected || (Result is not null && Settled);
    }

    private string TransferId => Id.GetId();

    public async Task<TransferProgress> BeginAsync(TransferRequest request)
    {
        if (LedgerRules.Transfer(request.FromAccountId, request.ToAccountId, request.Amount, TransferId, options.Value.MaxAmount).FirstOrDefault() is { } broken)
        {
            return new TransferProgress(TransferId, null, Steps.Rejected, new TransferResult(TransferId, Steps.Rejected, broken.Code, broken.Detail));
        }

        if (await LoadAsync() is { } existing)
        {
            return existing.Request == request
                ? View(existing)
                : new TransferProgress(TransferId, null, Steps.Rejected,
                    new TransferResult(TransferId, Steps.Rejected, LedgerRules.ReferenceReused, $"reference {TransferId} was already used for a different transfer"));
        }

        // The reminder first: if the process dies right after the save, the transfer is still finished.
        await RegisterReminderAsync(ResumeReminder, [], TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        var started = new Progress(request, Steps.Started, null);
        await SaveAsync(started);
        return View(started);
    }

    public async Task<TransferProgress> GetAsync() =>
        await LoadAsync() is { } p ? View(p) : new TransferProgress(TransferId, null, Steps.None, null);

    public async Task SettleAsync()
    {
        if (await LoadAsync() is { Result: not null, Settled: false } p)
        {
            await SaveAsync(p with { Settled = true });
        }
    }

    public async Task<LegVerdict> AuthorizeDebitAsync(LegClaim claim) =>
        claim.Kind == LegKinds.Debit && await LoadAsync() is { Step: Steps.Started } p && Matches(p, claim)
            ? new LegVerdict(true, true, null, null)
            : LegVerdict.NotAuthorized;

    public async Task<LegVerdict> DecideAsync(LegClaim claim)
    {
        if (await LoadAsync() is not { } p || !Matches(p, claim))
        {
            return LegVerdict.NotAuthorized;
        }

        switch (claim.Kind, p.Step)
        {
            case (LegKinds.Debit, Steps.Started):
                await SaveAsync(claim.Accept ? p with { Step = Steps.Debited } : Finish(p, Steps.Rejected, claim.Error, claim.Detail));
                return new LegVerdict(true, claim.Accept, claim.Error, claim.Detail);
            case (LegKinds.Debit, Steps.Rejected):
                return new LegVerdict(true, false, p.Result?.Error, p.Result?.Detail);
            case (LegKinds.Debit, _):
                return new LegVerdict(true, true, null, null);

            case (LegKinds.Credit, Steps.Debited):
                await SaveAsync(claim.Accept ? Finish(p, Steps.Completed, null, null) : p with { Step = Steps.Compensating, CreditError = claim.Detail ?? claim.Error });
                return new LegVerdict(true, claim.Accept, claim.Error, claim.Detail);
            case (LegKinds.Credit, Steps.Completed):
                return new LegVerdict(true, true, null, null);
            case (LegKinds.Credit, Steps.Compensating or Steps.Compensated):
                return new LegVerdict(true, false, "credit-refused", p.CreditError);

            case (LegKinds.Compensate, Steps.Compensating):
                await SaveAsync(Finish(p, Steps.Compensated, "credit-refused", p.CreditError));
                return new LegVerdict(true, true, null, p.CreditError);
            case (LegKinds.Compensate, Steps.Compensated):
                return new LegVerdict(true, true, null, p.CreditError);

            default:
                return LegVerdict.NotAuthorized;
        }
    }

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName != ResumeReminder)
        {
            return;
        }

        if (await LoadAsync() is { Done: false })
        {
            // Not awaited: the drive calls this actor (and the accounts call it back), so it must run after this turn ends.
            var saga = new TransferSaga(ProxyFactory);
            var id = TransferId;
            _ = Task.Run(async () =>
            {
                try
                {
                    await saga.ResumeAsync(id);
                }
                catch (Exception e)
                {
                    LogResumeFailed(logger, e, id);
                }
            });
        }
        else
        {
            await UnregisterReminderAsync(ResumeReminder);
        }
    }

    private static bool Matches(Progress p, LegClaim c) => c.Amount == p.Request.Amount && c.Kind switch
    {
        LegKinds.Debit or LegKinds.Compensate => c.AccountId == p.Request.FromAccountId && c.CounterpartyId == p.Request.ToAccountId,
        LegKinds.Credit => c.AccountId == p.Request.ToAccountId && c.CounterpartyId == p.Request.FromAccountId,
        _ => false,
    };

    private TransferProgress View(Progress p) => new(TransferId, p.Request, p.Step, p.Result, p.Done);

    private Progress Finish(Progress p, string status, string? error, string? detail) =>
        p with { Step = status, Result = new TransferResult(TransferId, status, error, detail) };

    private async Task<Progress?> LoadAsync()
    {
        var p = await StateManager.TryGetStateAsync<Progress>(Key);
        return p.HasValue ? p.Value : null;
    }

    private async Task SaveAsync(Progress p)
    {
        await StateManager.SetStateAsync(Key, p);
        await StateManager.SaveStateAsync();
        if (p.Done)
        {
            try
            {
                await UnregisterReminderAsync(ResumeReminder);
            }
            catch (Exception e) when (e is Dapr.DaprApiException or Dapr.DaprException or HttpRequestException)
            {
                // The reminder's next tick finds the transfer final and removes itself.
                LogResumeFailed(logger, e, TransferId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resuming transfer {TransferId} failed; its reminder will try again")]
    private static partial void LogResumeFailed(ILogger logger, Exception error, string transferId);
}

/// <summary>A transfer's steps; the last three are final.</summary>
public static class Steps
{
    public const string None = "none";
    public const string Started = "started";
    public const string Debited = "debited";
    public const string Compensating = "compensating";
    public const string Completed = "completed";
    public const string Compensated = "compensated";
    public const string Rejected = "rejected";
}
