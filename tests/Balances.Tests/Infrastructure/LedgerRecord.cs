using System.Text.Json.Serialization;

namespace Platform.Balances.Tests.Infrastructure;

/// <summary>An event as the ledger publishes it and serves it (the contract in services/Balances/README.md).</summary>
public sealed record LedgerRecord(
    string Kind,
    string AccountId,
    long Sequence,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] decimal? Amount,
    string Reference,
    DateTimeOffset OccurredAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Owner = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TransferId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CounterpartyId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null);

/// <summary>
/// Writes streams of ledger events the way the Ledger would (per-account sequences from 1, AccountOpened first,
/// transfers as a debit on one account and a credit on the other), and folds them into the balances, statements
/// and totals a correct read model must show: an independent implementation to check the service against.
/// </summary>
public sealed class StreamBuilder
{
    private static readonly DateTimeOffset Epoch = new(2026, 11, 24, 2, 40, 0, TimeSpan.Zero);
    private readonly Dictionary<string, long> _sequences = new(StringComparer.Ordinal);
    private int _clock;

    public List<LedgerRecord> Events { get; } = [];

    private LedgerRecord Next(string kind, string account, decimal? amount, string? owner = null, string? transferId = null, string? counterparty = null, string? reason = null)
    {
        var sequence = _sequences[account] = _sequences.GetValueOrDefault(account) + 1;
        var e = new LedgerRecord(kind, account, sequence, amount, $"ref-{account}-{sequence}", Epoch.AddSeconds(++_clock), owner, transferId, counterparty, reason);
        Events.Add(e);
        return e;
    }

    public LedgerRecord Open(string account, string owner) => Next("AccountOpened", account, null, owner: owner);

    public LedgerRecord Deposit(string account, decimal amount) => Next("Deposited", account, amount);

    public LedgerRecord Withdraw(string account, decimal amount) => Next("Withdrawn", account, amount);

    public LedgerRecord Unknown(string account, string kind) => Next(kind, account, 1.00m);

    public (LedgerRecord Debit, LedgerRecord Credit) Transfer(string from, string to, decimal amount)
    {
        var id = $"t-{_clock}";
        return (Next("TransferDebited", from, amount, transferId: id, counterparty: to), Next("TransferCredited", to, amount, transferId: id, counterparty: from));
    }

    public LedgerRecord Compensate(string account, string counterparty, decimal amount) =>
        Next("TransferCompensated", account, amount, transferId: $"t-{_clock}", counterparty: counterparty, reason: "credit refused");

    /// <summary>
    /// A mixed stream over <paramref name="accounts"/> accounts, <paramref name="eventsPerAccount"/> events each (roughly),
    /// interleaved across accounts; deterministic for a given seed.
    /// </summary>
    public static StreamBuilder Mixed(string prefix, int accounts, int eventsPerAccount, int seed = 7)
    {
        var random = new Random(seed);
        var s = new StreamBuilder();
        var ids = Enumerable.Range(1, accounts).Select(i => $"{prefix}-{i}").ToArray();
        foreach (var id in ids)
        {
            s.Open(id, $"owner-of-{id}");
            s.Deposit(id, 1000.00m);
        }

        while (ids.Any(id => s._sequences[id] < eventsPerAccount))
        {
            var id = ids[random.Next(ids.Length)];
            var amount = random.Next(1, 5000) / 100m;
            switch (random.Next(5))
            {
                case 0:
                    s.Deposit(id, amount);
                    break;
                case 1:
                    s.Withdraw(id, amount);
                    break;
                case 2 when ids.Length > 1:
                    var other = ids[(Array.IndexOf(ids, id) + 1 + random.Next(ids.Length - 1)) % ids.Length];
                    s.Transfer(id, other, amount);
                    break;
                case 3:
                    s.Withdraw(id, amount);
                    s.Compensate(id, "elsewhere", amount);
                    break;
                default:
                    s.Deposit(id, amount);
                    break;
            }
        }

        return s;
    }

    public static decimal Effect(LedgerRecord e) => e.Kind switch
    {
        "Deposited" or "TransferCredited" or "TransferCompensated" => e.Amount!.Value,
        "Withdrawn" or "TransferDebited" => -e.Amount!.Value,
        _ => 0m,
    };

    public static bool MovesMoney(LedgerRecord e) =>
        e.Kind is "AccountOpened" or "Deposited" or "Withdrawn" or "TransferDebited" or "TransferCredited" or "TransferCompensated";

    /// <summary>What the read model must show for one account: (balance, last sequence, statement lines as (sequence, kind, amount, balanceAfter)).</summary>
    public static Expected ExpectedFor(IEnumerable<LedgerRecord> events, string account)
    {
        var balance = 0m;
        var lines = new List<(long, string, decimal, decimal)>();
        long last = 0;
        foreach (var e in events.Where(e => e.AccountId == account).OrderBy(e => e.Sequence))
        {
            last = e.Sequence;
            if (MovesMoney(e))
            {
                balance += Effect(e);
                lines.Add((e.Sequence, e.Kind, Effect(e), balance));
            }
        }

        return new Expected(balance, last, lines);
    }

    public sealed record Expected(decimal Balance, long LastSequence, List<(long Sequence, string Kind, decimal Amount, decimal BalanceAfter)> Lines);
}
