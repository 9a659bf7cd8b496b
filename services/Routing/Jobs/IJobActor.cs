using Dapr.Actors;

namespace Platform.Routing.Jobs;

/// <summary>One optimisation job. The sidecar runs one call at a time per job: a round, a read or a cancel.</summary>
public interface IJobActor : IActor
{
    /// <summary>Starts the job; false if this id already has one (nothing changes then).</summary>
    Task<bool> StartAsync(JobSpec spec);

    Task<JobView?> GetAsync();

    /// <summary>Stops a running job after the round in progress; a finished job is returned unchanged.</summary>
    Task<JobView?> CancelAsync();
}

/// <summary>How a job splits its work over rounds.</summary>
public static class Strategies
{
    /// <summary>Every chain continues from its own tour of the previous round (K independent annealing runs).</summary>
    public const string Independent = "independent";

    /// <summary>Every chain restarts each round from the best tour found so far, with its own seed.</summary>
    public const string Restart = "restart";

    public static readonly string[] All = [Independent, Restart];
}

/// <summary>A validated job, as the actor stores it.</summary>
public sealed record JobSpec(
    string Name,
    string Owner,
    double[][] Cities,
    string Metric,
    int BudgetMs,
    int Parallelism,
    string Strategy,
    int RoundMs,
    long Seed);

public sealed record RoundRecord(int Round, long ElapsedMs, long BestLength);

/// <summary>What <c>GET /jobs/{id}</c> returns.</summary>
public sealed record JobView(
    string JobId,
    string Owner,
    string Name,
    string Status,
    int Round,
    long BestLength,
    int[] Tour,
    double[][] Cities,
    string Metric,
    long ElapsedMs,
    int BudgetMs,
    int Parallelism,
    string Strategy,
    long Moves,
    double MovesPerSecond,
    int FailedCalls,
    IReadOnlyDictionary<string, int> CallsPerReplica,
    IReadOnlyList<RoundRecord> History);

/// <summary>The contract's <c>routes</c> message: one per round and one at the end; cities in each, so a late reader can draw.</summary>
public sealed record RouteProgress(
    string JobId,
    string Owner,
    string Name,
    int Round,
    string Status,
    long BestLength,
    int[] Tour,
    double[][] Cities,
    long ElapsedMs,
    int BudgetMs);

/// <summary>What Routing sends Solver (its own copy of the contract: a tolerant reader, no shared DLL).</summary>
public sealed record SolverRequest(double[][] Cities, string Metric, int[] Tour, long Seed, int BudgetMs, double ScheduleFrom, double ScheduleTo);

public sealed record SolverResult(int[] Tour, long Length, long Moves, string ReplicaId);
