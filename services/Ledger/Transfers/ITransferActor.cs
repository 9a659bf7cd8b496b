using Dapr.Actors;

namespace Platform.Ledger.Transfers;

/// <summary>
/// The authority for one transfer, keyed by its reference: it holds the request and the step the transfer is at,
/// and decides which leg may be applied now. It never calls another actor, so nothing waits on it while it waits:
/// the legs call it (account → transfer only), and <see cref="TransferSaga"/> drives it from outside any turn.
/// </summary>
public interface ITransferActor : IActor
{
    /// <summary>Records a new transfer as <c>started</c> (or returns the existing one: its final result, or a refusal if the request differs).</summary>
    Task<TransferProgress> BeginAsync(TransferRequest request);

    Task<TransferProgress> GetAsync();

    /// <summary>The driver saw the last leg (credit or compensation) stored by its account: nothing is left to do, the resume reminder goes.</summary>
    Task SettleAsync();

    /// <summary>Asked by the source account before it stores a debit: is a debit of exactly this due now? Changes nothing.</summary>
    Task<LegVerdict> AuthorizeDebitAsync(LegClaim claim);

    /// <summary>
    /// An account's decision on a leg, recorded: the debit's after the account stored it (started → debited or
    /// rejected); the credit's and the compensation's before the account stores them (debited → completed or
    /// compensating; compensating → compensated), and the account then does what the verdict says. A leg that is
    /// not the one due (no such transfer, other accounts or amount, wrong step) is not authorized and changes nothing.
    /// </summary>
    Task<LegVerdict> DecideAsync(LegClaim claim);
}

public sealed record TransferRequest(string FromAccountId, string ToAccountId, decimal Amount);

/// <summary><see cref="Status"/>: completed, rejected (nothing moved) or compensated (debited, credit refused, debit given back).</summary>
public sealed record TransferResult(string TransferId, string Status, string? Error, string? Detail);

/// <summary>
/// Where a transfer is: <see cref="Step"/> is started, debited, compensating, or final (completed, compensated, rejected)
/// with <see cref="Result"/>; <see cref="Done"/> once the last leg is known to be stored too.
/// </summary>
public sealed record TransferProgress(string TransferId, TransferRequest? Request, string Step, TransferResult? Result, bool Done = false);

public static class LegKinds
{
    public const string Debit = "debit";
    public const string Credit = "credit";
    public const string Compensate = "compensate";
}

/// <summary>An account's claim on a leg: which leg, which accounts, how much, and what the account decided (with its refusal code).</summary>
public sealed record LegClaim(string Kind, string AccountId, string CounterpartyId, decimal Amount, bool Accept, string? Error = null, string? Detail = null);

/// <summary>
/// The transfer's answer. <see cref="Authorized"/> false: this leg is not due, refuse it and store nothing.
/// Otherwise <see cref="Apply"/> is the decision the account must store (the first one recorded, whoever asks again).
/// </summary>
public sealed record LegVerdict(bool Authorized, bool Apply, string? Error, string? Detail)
{
    public static readonly LegVerdict NotAuthorized = new(false, false, null, null);
}
