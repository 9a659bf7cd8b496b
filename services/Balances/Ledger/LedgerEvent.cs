using System.Text.Json;
using Platform.Balances.ReadModel;

namespace Platform.Balances.Ledger;

/// <summary>
/// Our own copy of the ledger's event (a tolerant reader: unknown fields are ignored, unknown kinds are kept and
/// counted by the projector, numbers may arrive as strings). See README.md for the contract.
/// </summary>
public sealed record LedgerEvent(
    string? Kind,
    string AccountId,
    long Sequence,
    decimal? Amount,
    string? Reference,
    DateTimeOffset? OccurredAt,
    string? Owner = null,
    string? TransferId = null,
    string? CounterpartyId = null,
    string? Reason = null)
{
    public const string AccountOpened = nameof(AccountOpened);
    public const string Deposited = nameof(Deposited);
    public const string Withdrawn = nameof(Withdrawn);
    public const string TransferDebited = nameof(TransferDebited);
    public const string TransferCredited = nameof(TransferCredited);
    public const string TransferCompensated = nameof(TransferCompensated);
    public const string AccountClosed = nameof(AccountClosed);

    /// <summary>The event, or null when it names no account or sequence (nothing could ever apply it).</summary>
    public static LedgerEvent? TryRead(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        try
        {
            var evt = json.Deserialize<LedgerEvent>(JsonSerializerOptions.Web);
            return evt is { Sequence: > 0 } && Keys.IsValidAccountId(evt.AccountId) ? evt : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The signed change to the balance, 0 for AccountOpened and AccountClosed, or null when the event cannot move money: an unknown
    /// kind, or a money kind without a positive amount.
    /// </summary>
    public decimal? Effect() => Kind switch
    {
        AccountOpened or AccountClosed => Money.Zero,
        Deposited or TransferCredited or TransferCompensated when Amount > 0 => Money.Of(Amount.Value),
        Withdrawn or TransferDebited when Amount > 0 => -Money.Of(Amount.Value),
        _ => null,
    };
}
