using Dapr.Actors;

namespace Platform.Ledger.Accounts;

/// <summary>One account: its commands, its balance and its event log. The sidecar runs one call at a time per account.</summary>
public interface IAccountActor : IActor
{
    Task<CommandResult> OpenAsync(OpenRequest request);

    Task<CommandResult> DepositAsync(MoneyRequest request);

    Task<CommandResult> WithdrawAsync(MoneyRequest request);

    Task<CommandResult> DebitForTransferAsync(TransferLeg leg);

    Task<CommandResult> CreditForTransferAsync(TransferLeg leg);

    Task<CommandResult> CompensateAsync(TransferLeg leg);

    Task<CommandResult> CloseAsync(CloseRequest request);

    Task<AccountView?> GetAsync();

    Task<IReadOnlyList<LedgerEvent>> GetEventsAsync(long fromSequence);
}

public sealed record OpenRequest(string Owner, string Reference);

public sealed record MoneyRequest(decimal Amount, string Reference);

public sealed record CloseRequest(string Reference);

public sealed record TransferLeg(string TransferId, string CounterpartyId, decimal Amount, string Reference, string? Reason = null);

/// <summary>What a command did. <see cref="Error"/> is a stable code: not-found, already-open, account-closed, balance-not-zero, insufficient-funds, reference-reused.</summary>
public sealed record CommandResult(bool Accepted, string? Error, string? Detail, long Sequence, decimal Balance)
{
    public static CommandResult Rejected(string error, string detail, AccountState? state) => new(false, error, detail, state?.Sequence ?? 0, state?.Balance ?? 0);
}

public sealed record AccountView(string AccountId, string Owner, decimal Balance, long Sequence, DateTimeOffset OpenedAt, bool Closed);

/// <summary>The account's current state, derived from its events and stored beside them. A closed account takes no more commands.</summary>
public sealed record AccountState(string Owner, decimal Balance, long Sequence, DateTimeOffset OpenedAt, bool Closed = false);
