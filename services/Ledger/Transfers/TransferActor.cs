using Dapr.Actors;
using Dapr.Actors.Runtime;
using Platform.Ledger.Accounts;

namespace Platform.Ledger.Transfers;

public interface ITransferActor : IActor
{
    Task<TransferResult> ExecuteAsync(TransferRequest request);
}

public sealed record TransferRequest(string FromAccountId, string ToAccountId, decimal Amount);

/// <summary><see cref="Status"/>: completed, rejected (nothing moved) or compensated (debited, credit refused, debit given back).</summary>
public sealed record TransferResult(string TransferId, string Status, string? Error, string? Detail);

/// <summary>
/// A transfer is a saga over two account actors, keyed by the client's reference: debit the source, credit the
/// target, and if the credit is refused give the debit back. Each step is recorded before the next; a
/// <c>resume</c> reminder, registered before the first step and removed after the last, finishes a transfer
/// whose process died midway. Every leg carries its own reference, so a step repeated after a crash is a no-op.
/// </summary>
internal sealed class TransferActor(ActorHost host) : Actor(host), ITransferActor, IRemindable
{
    private const string Key = "transfer";
    private const string ResumeReminder = "resume";

    private sealed record Progress(TransferRequest Request, string Step, TransferResult? Result, string? CreditError = null);

    public async Task<TransferResult> ExecuteAsync(TransferRequest request)
    {
        var existing = await StateManager.TryGetStateAsync<Progress>(Key);
        if (existing.HasValue)
        {
            if (existing.Value.Request != request)
            {
                return new TransferResult(Id.GetId(), "rejected", "reference-reused", $"reference {Id.GetId()} was already used for a different transfer");
            }

            return existing.Value.Result ?? await RunAsync(existing.Value);
        }

        await RegisterReminderAsync(ResumeReminder, [], TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        var progress = new Progress(request, "started", null);
        await SaveAsync(progress);
        return await RunAsync(progress);
    }

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        var progress = await StateManager.TryGetStateAsync<Progress>(Key);
        if (progress.HasValue && progress.Value.Result is null)
        {
            await RunAsync(progress.Value);
        }
        else
        {
            await UnregisterReminderAsync(ResumeReminder);
        }
    }

    private async Task<TransferResult> RunAsync(Progress p)
    {
        var id = Id.GetId();
        var (from, to, amount) = (p.Request.FromAccountId, p.Request.ToAccountId, p.Request.Amount);
        if (p.Step == "started")
        {
            var debit = await Account(from).DebitForTransferAsync(new TransferLeg(id, to, amount, $"{id}:debit"));
            p = debit.Accepted ? p with { Step = "debited" } : Finish(p, "rejected", debit.Error, debit.Detail);
            await SaveAsync(p);
        }

        if (p.Step == "debited")
        {
            var credit = await Account(to).CreditForTransferAsync(new TransferLeg(id, from, amount, $"{id}:credit"));
            p = credit.Accepted ? Finish(p, "completed", null, null) : p with { Step = "compensating", CreditError = credit.Detail };
            await SaveAsync(p);
        }

        if (p.Step == "compensating")
        {
            await Account(from).CompensateAsync(new TransferLeg(id, to, amount, $"{id}:compensate", p.CreditError));
            p = Finish(p, "compensated", "credit-refused", p.CreditError);
            await SaveAsync(p);
        }

        await UnregisterReminderAsync(ResumeReminder);
        return p.Result!;
    }

    private Progress Finish(Progress p, string status, string? error, string? detail) =>
        p with { Step = status, Result = new TransferResult(Id.GetId(), status, error, detail) };

    private IAccountActor Account(string accountId) =>
        ProxyFactory.CreateActorProxy<IAccountActor>(new ActorId(accountId), LedgerNames.AccountActor);

    private async Task SaveAsync(Progress p)
    {
        await StateManager.SetStateAsync(Key, p);
        await StateManager.SaveStateAsync();
    }
}
