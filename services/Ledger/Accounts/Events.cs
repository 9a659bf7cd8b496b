namespace Platform.Ledger.Accounts;

/// <summary>
/// One fact in an account's stream, the system of record. Published on topic <c>ledger</c> exactly as stored,
/// in per-account order (<see cref="Sequence"/> starts at 1 with <c>AccountOpened</c> and has no gaps).
/// </summary>
public sealed record LedgerEvent(
    string Kind,
    string AccountId,
    long Sequence,
    decimal? Amount,
    string Reference,
    DateTimeOffset OccurredAt,
    string? Owner = null,
    string? TransferId = null,
    string? CounterpartyId = null,
    string? Reason = null);

public static class EventKinds
{
    public const string AccountOpened = nameof(AccountOpened);
    public const string Deposited = nameof(Deposited);
    public const string Withdrawn = nameof(Withdrawn);
    public const string TransferDebited = nameof(TransferDebited);
    public const string TransferCredited = nameof(TransferCredited);
    public const string TransferCompensated = nameof(TransferCompensated);
    public const string AccountClosed = nameof(AccountClosed);

    /// <summary>How an event changes the balance.</summary>
    public static decimal Effect(LedgerEvent e) => e.Kind switch
    {
        Deposited or TransferCredited or TransferCompensated => e.Amount ?? 0,
        Withdrawn or TransferDebited => -(e.Amount ?? 0),
        _ => 0,
    };
}
