using Dapr.Client;

namespace Platform.Balances.ReadModel;

/// <summary>
/// One account as the read model sees it. <c>updatedAt</c> is the last applied event's <c>occurredAt</c>, not the
/// clock, so that a rebuild writes exactly the same document as the incremental build did.
/// </summary>
public sealed record AccountDoc(
    string AccountId,
    string? Owner,
    decimal Balance,
    long LastSequence,
    DateTimeOffset? OpenedAt,
    DateTimeOffset? UpdatedAt,
    int StatementLines)
{
    public static AccountDoc Empty(string accountId) => new(accountId, null, Money.Zero, 0, null, null, 0);
}

/// <summary>One statement line; <c>amount</c> is signed (debits negative), so <c>balanceAfter</c> = previous + amount.</summary>
public sealed record StatementLine(
    long Sequence,
    string Kind,
    decimal Amount,
    decimal BalanceAfter,
    string? Reference,
    DateTimeOffset? OccurredAt,
    string? CounterpartyId);

/// <summary>Up to <see cref="Keys.LinesPerPage"/> consecutive lines of one account's statement.</summary>
public sealed record StatementPage(string AccountId, int Page, IReadOnlyList<StatementLine> Lines);

/// <summary>
/// The totals of the accounts whose id hashes to <see cref="Shard"/>. Written in the same transaction as the
/// account document, so each shard always equals the sum over its accounts.
/// </summary>
public sealed record TotalsShard(int Shard, long Accounts, decimal Balance, long EventsApplied, long EventsIgnored)
{
    public static TotalsShard Empty(int shard) => new(shard, 0, Money.Zero, 0, 0);
}

/// <summary>
/// Which generation of keys is live, and which one a rebuild is filling. Every delivery reads it afresh (never
/// cached): the rebuild's switch-over is correct only because each event sees the pointer as it is now.
/// </summary>
public sealed record ModelPointer(int Generation, int? Rebuilding, DateTimeOffset? RebuildStartedAt, int HighestGeneration)
{
    public static readonly ModelPointer Initial = new(1, null, null, 1);

    public static async Task<ModelPointer> ReadAsync(DaprClient dapr, CancellationToken ct) =>
        await dapr.GetStateAsync<ModelPointer?>(Components.StateStore, Keys.Pointer, cancellationToken: ct) ?? Initial;
}

/// <summary>Money is kept with exactly two decimals, so the same sum prints the same whatever order it was added in.</summary>
public static class Money
{
    public static readonly decimal Zero = 0.00m;

    public static decimal Of(decimal value) => decimal.Round(value, 2, MidpointRounding.ToEven) + Zero;
}
