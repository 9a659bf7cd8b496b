using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Live.Views;

/// <summary>One account as the page shows it.</summary>
public sealed record AccountView(string AccountId, string? Owner, decimal Balance, long Sequence, DateTimeOffset UpdatedAt);

/// <summary>A fraud alert, with the owner of its account (so it goes to that user's stream).</summary>
public sealed record AlertView(string AlertId, string Rule, string AccountId, string? Owner, long Sequence, JsonElement? Details, DateTimeOffset OccurredAt);

/// <summary>A routing job's progress and its best tour so far. <see cref="Cities"/> travels once per job in the deltas.</summary>
public sealed record JobView(
    string JobId,
    string? Owner,
    string? Name,
    int Round,
    string Status,
    double BestLength,
    int[] Tour,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double[][]? Cities,
    long ElapsedMs,
    long BudgetMs,
    DateTimeOffset UpdatedAt);

/// <summary>The latest load report of one solver replica.</summary>
public sealed record LoadView(string ReplicaId, double Cpu, double MovesPerSecond, int InFlight, DateTimeOffset At);

/// <summary>Figures over everything: the shared panel every user sees.</summary>
public sealed record Totals(int Accounts, decimal Balance, int Alerts, int JobsRunning);

/// <summary>
/// One change of the views, published by the leader on <c>views</c>. <see cref="Epoch"/> names the leader's run (a
/// restarted leader starts a new one) and <see cref="Seq"/> counts its deltas without gaps, so a follower that
/// misses one knows. Exactly one of the entries is set; <see cref="Totals"/> rides along when they changed.
/// <see cref="At"/> is the leader's clock when it published (Unix ms), for latency figures.
/// </summary>
public sealed record Delta(
    string Epoch,
    long Seq,
    long At,
    string Kind,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AccountView? Account = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AlertView? Alert = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JobView? Job = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] LoadView? Load = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Totals? Totals = null)
{
    /// <summary>
    /// Whose stream it belongs to; null: everyone's (solver load, a job without an owner). An account whose
    /// <c>AccountOpened</c> has not arrived yet (pub/sub does not promise order) belongs to nobody until it does.
    /// </summary>
    [JsonIgnore]
    public string? Owner => Account is { } account ? account.Owner ?? NoOwnerYet : Alert?.Owner ?? Job?.Owner;

    /// <summary>An owner no user id can be (ids come from query strings, which cannot carry NUL).</summary>
    public const string NoOwnerYet = "\0owner-not-yet-known";
}

public static class DeltaKinds
{
    public const string Account = "account";
    public const string Alert = "alert";
    public const string Job = "job";
    public const string Load = "load";
}

/// <summary>All the views at one sequence number: what a follower starts from and what the page first gets.</summary>
public sealed record Snapshot(
    string Epoch,
    long Seq,
    IReadOnlyList<AccountView> Accounts,
    IReadOnlyList<AlertView> Alerts,
    IReadOnlyList<JobView> Jobs,
    IReadOnlyList<LoadView> Loads,
    Totals Totals);
