using System.Text.Json;

namespace Platform.Live.Leader;

// Our own copies of the events we read (tolerant readers): only the fields the views use, all optional, so a
// producer adding a field never breaks us, and a message missing what we need is dropped, not retried forever.

/// <summary>From topic <c>ledger</c> (services/Ledger/Accounts/Events.cs).</summary>
public sealed record LedgerEvent(string? Kind, string? AccountId, long Sequence, decimal? Amount, string? Owner, DateTimeOffset? OccurredAt);

/// <summary>From topic <c>alerts</c> (services/fraud/src/alerts.ts, FraudSuspected).</summary>
public sealed record FraudSuspected(string? AlertId, string? Rule, string? AccountId, long Sequence, JsonElement? Details, DateTimeOffset? OccurredAt);

/// <summary>From topic <c>routes</c> (Routing: one per job round and one at the end).</summary>
public sealed record RouteProgress(
    string? JobId, string? Owner, string? Name, int Round, string? Status, double BestLength, int[]? Tour, double[][]? Cities, long ElapsedMs, long BudgetMs);

/// <summary>From topic <c>solver-load</c> (each Solver replica, about once a second).</summary>
public sealed record SolverLoad(string? ReplicaId, double Cpu, double MovesPerSecond, int InFlight, DateTimeOffset? At);
