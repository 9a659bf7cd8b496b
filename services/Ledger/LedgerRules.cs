using System.Text.RegularExpressions;

namespace Platform.Ledger;

/// <summary>
/// The ledger's rules and their codes, in one place. The HTTP API checks them at the edge (400 naming the field and
/// the code); the actors check them again, because the actor API is a door of its own and the aggregate is the
/// authority: a command that reaches an actor some other way gets the same refusal, with the same code.
/// </summary>
public static partial class LedgerRules
{
    public const string AmountRequired = "amount-required";
    public const string AmountNotPositive = "amount-not-positive";
    public const string AmountPrecision = "amount-precision";
    public const string AmountOverMaximum = "amount-over-maximum";
    public const string TextRequired = "-required";
    public const string InvalidId = "invalid-id";
    public const string SameAccount = "same-account";

    // Refusals decided against state (409, or 404 for not-found), and the transfer legs' own rules.
    public const string NotFound = "not-found";
    public const string AlreadyOpen = "already-open";
    public const string AccountClosed = "account-closed";
    public const string BalanceNotZero = "balance-not-zero";
    public const string InsufficientFunds = "insufficient-funds";
    public const string ReferenceReused = "reference-reused";
    public const string LegReferenceMismatch = "leg-reference-mismatch";
    public const string TransferNotAuthorized = "transfer-not-authorized";

    /// <summary>A broken rule: the field it concerns, its stable code, and what is wrong in words.</summary>
    public sealed record Violation(string Field, string Code, string Message)
    {
        public string Detail => $"{Field} {Message}";
    }

    /// <summary>Amounts are positive, have at most 2 decimal places, and do not exceed <see cref="LedgerOptions.MaxAmount"/>.</summary>
    public static Violation? Amount(string field, decimal? amount, decimal max) => amount switch
    {
        null => new(field, AmountRequired, "is required"),
        <= 0 => new(field, AmountNotPositive, "must be a positive amount"),
        { } a when decimal.Round(a, 2) != a => new(field, AmountPrecision, "must have at most 2 decimal places"),
        { } a when a > max => new(field, AmountOverMaximum, $"must not exceed {max}"),
        _ => null,
    };

    /// <summary>Free text (owner, reference): present, not blank, at most 100 characters. The code names the field: <c>reference-required</c>.</summary>
    public static Violation? Text(string field, string? text) =>
        string.IsNullOrWhiteSpace(text) || text.Length > 100 ? new(field, field + TextRequired, "is required (at most 100 characters)") : null;

    /// <summary>Ids (accounts, transfer references): <c>[a-z0-9-]{1,64}</c>.</summary>
    public static Violation? Id(string field, string? id) =>
        IsId(id) ? null : new(field, InvalidId, "must be 1-64 characters: lower-case letters, digits and '-'");

    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>What a transfer request must satisfy, wherever it comes in (the API, or the transfer actor's own door).</summary>
    public static IEnumerable<Violation> Transfer(string? from, string? to, decimal? amount, string? reference, decimal max)
    {
        Violation?[] all =
        [
            Id("fromAccountId", from),
            Id("toAccountId", to),
            Amount("amount", amount, max),
            Id("reference", reference),
            from is not null && from == to ? new("toAccountId", SameAccount, "must differ from fromAccountId") : null,
        ];
        return all.OfType<Violation>();
    }

    /// <summary>The reference each leg of transfer <paramref name="transferId"/> is stored under: one reference per leg, so repeating a leg is idempotent.</summary>
    public static string LegReference(string transferId, string leg) => $"{transferId}:{leg}";

    [GeneratedRegex("^[a-z0-9-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}
