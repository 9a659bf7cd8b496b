using Dapr;
using Dapr.Actors.Runtime;
using Dapr.Client;
using Platform.Tsp;

namespace Platform.Routing.Jobs;

/// <summary>
/// Scatter–gather over the solver pool. Each round invokes <c>solver</c> K times at once through the sidecar (which
/// spreads the calls round-robin over the replicas and caps each with app-max-concurrency), keeps the best tour,
/// and publishes it on <c>routes</c>. Each round runs the next slice of one annealing schedule, hot to cold over
/// the job's budget. A call that fails or times out is retried on another replica by the sidecar (Resiliency,
/// <c>targets.apps.solver</c>); if it still fails, the round goes on without it and the job ends with what it has.
/// A round is a one-shot reminder that schedules the next, so reads and cancels get their turn between rounds.
/// </summary>
public sealed partial class JobActor(ActorHost host, DaprClient dapr, IHttpClientFactory http, ILogger<JobActor> logger) : Actor(host), IJobActor, IRemindable
{
    private const string StateKey = "job";
    private const string RoundReminder = "round";

    // Once the budget has less than this left, another round would cost more in overhead than it could find.
    private static readonly TimeSpan MinRound = TimeSpan.FromMilliseconds(30);

    public async Task<bool> StartAsync(JobSpec spec)
    {
        if ((await StateManager.TryGetStateAsync<JobState>(StateKey)).HasValue)
        {
            return false;
        }

        var instance = Instance.FromCities(spec.Cities, Metrics.TryParse(spec.Metric, out var m) ? m : Metric.Euc2D);
        var start = instance.Count > 3000 ? StartTours.SpaceFillingCurve(instance) : StartTours.NearestNeighbour(instance);
        var state = new JobState
        {
            Spec = spec,
            Status = JobStatus.Running,
            StartedAt = DateTimeOffset.UtcNow,
            BestTour = start,
            BestLength = instance.Length(start),
            Chains = [.. Enumerable.Range(0, spec.Parallelism).Select(_ => start)],
        };
        await StateManager.SetStateAsync(StateKey, state);
        await StateManager.SaveStateAsync();
        await RegisterReminderAsync(RoundReminder, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(-1));
        return true;
    }

    public async Task<JobView?> GetAsync() =>
        (await StateManager.TryGetStateAsync<JobState>(StateKey)) is { HasValue: true } s ? View(s.Value) : null;

    public async Task<JobView?> CancelAsync()
    {
        if ((await StateManager.TryGetStateAsync<JobState>(StateKey)) is not { HasValue: true } s)
        {
            return null;
        }

        var state = s.Value;
        if (state.Status == JobStatus.Running)
        {
            await FinishAsync(state, JobStatus.Cancelled);
        }

        return View(state);
    }

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName == RoundReminder && (await StateManager.TryGetStateAsync<JobState>(StateKey)) is { HasValue: true } s && s.Value.Status == JobStatus.Running)
        {
            await RunRoundAsync(s.Value);
        }
    }

    private async Task RunRoundAsync(JobState state)
    {
        var spec = state.Spec;
        var budget = TimeSpan.FromMilliseconds(spec.BudgetMs);
        var elapsed = DateTimeOffset.UtcNow - state.StartedAt;
        var remaining = budget - elapsed;
        if (remaining < MinRound)
        {
            await FinishAsync(state, state.SucceededCalls > 0 ? JobStatus.Completed : JobStatus.Failed);
            return;
        }

        using var activity = RoutingExtensions.Activity.StartActivity("round");
        activity?.SetTag("job.id", Id.GetId());
        activity?.SetTag("job.round", state.Round + 1);
        var callMs = (int)Math.Min(spec.RoundMs, remaining.TotalMilliseconds);
        var from = elapsed / budget;
        var to = Math.Min(1, (elapsed.TotalMilliseconds + callMs) / spec.BudgetMs);
        var round = state.Round;
        var restart = spec.Strategy == Strategies.Restart;
        var calls = new Task<SolverResult?>[spec.Parallelism];
        for (var k = 0; k < calls.Length; k++)
        {
            var request = new SolverRequest(spec.Cities, spec.Metric, restart ? state.BestTour : state.Chains[k], Seed(spec.Seed, round, k), callMs, from, to);
            calls[k] = CallSolverAsync(request);
        }

        var results = await Task.WhenAll(calls);
        for (var k = 0; k < results.Length; k++)
        {
            if (results[k] is not { } r)
            {
                state.FailedCalls++;
                continue;
            }

            state.SucceededCalls++;
            state.Moves += r.Moves;
            state.CallsPerReplica[r.ReplicaId] = state.CallsPerReplica.GetValueOrDefault(r.ReplicaId) + 1;
            state.Chains[k] = r.Tour;
            if (r.Length < state.BestLength)
            {
                state.BestLength = r.Length;
                state.BestTour = r.Tour;
            }
        }

        state.Round++;
        state.ElapsedMs = (long)(DateTimeOffset.UtcNow - state.StartedAt).TotalMilliseconds;
        state.History.Add(new RoundRecord(state.Round, state.ElapsedMs, state.BestLength));
        if (state.ElapsedMs >= spec.BudgetMs - MinRound.TotalMilliseconds)
        {
            await FinishAsync(state, state.SucceededCalls > 0 ? JobStatus.Completed : JobStatus.Failed);
            return;
        }

        await StateManager.SetStateAsync(StateKey, state);
        await StateManager.SaveStateAsync();
        await PublishAsync(state);
        await RegisterReminderAsync(RoundReminder, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(-1));
    }

    /// <summary>One sub-search; null if it failed even after the sidecar's retries, or ran far past its budget.</summary>
    private async Task<SolverResult?> CallSolverAsync(SolverRequest request)
    {
        // Room for a retry on another replica (the Resiliency policy's) before the round gives up on this chain.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds((2 * request.BudgetMs) + 3000));
        try
        {
            using var response = await http.CreateClient(RoutingNames.Solver).PostAsJsonAsync($"/{RoutingNames.SolverMethod}", request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogCallFailed(logger, Id.GetId(), $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(timeout.Token)}");
                return null;
            }

            var result = await response.Content.ReadFromJsonAsync<SolverResult>(timeout.Token);
            return result?.Tour?.Length == request.Cities.Length ? result : null;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            LogCallFailed(logger, Id.GetId(), e.Message);
            return null;
        }
    }

    private async Task FinishAsync(JobState state, string status)
    {
        state.Status = status;
        state.ElapsedMs = (long)(DateTimeOffset.UtcNow - state.StartedAt).TotalMilliseconds;
        await StateManager.SetStateAsync(StateKey, state);
        await StateManager.SaveStateAsync();
        await PublishAsync(state);
        LogFinished(logger, Id.GetId(), status, state.BestLength, state.Round);
    }

    private async Task PublishAsync(JobState state)
    {
        var spec = state.Spec;
        try
        {
            await dapr.PublishEventAsync(RoutingNames.PubSub, RoutingNames.RoutesTopic, new RouteProgress(
                Id.GetId(), spec.Owner, spec.Name, state.Round, state.Status, state.BestLength, state.BestTour, spec.Cities, state.ElapsedMs, spec.BudgetMs));
        }
        catch (DaprException e)
        {
            // Progress is a view, and the next round (or GET /jobs/{id}) supersedes it: the job goes on.
            LogPublishFailed(logger, Id.GetId(), e.Message);
        }
    }

    private JobView View(JobState s) => new(
        Id.GetId(), s.Spec.Owner, s.Spec.Name, s.Status, s.Round, s.BestLength, s.BestTour, s.Spec.Cities, s.Spec.Metric,
        s.Status == JobStatus.Running ? (long)(DateTimeOffset.UtcNow - s.StartedAt).TotalMilliseconds : s.ElapsedMs,
        s.Spec.BudgetMs, s.Spec.Parallelism, s.Spec.Strategy, s.Moves,
        s.ElapsedMs > 0 ? Math.Round(s.Moves * 1000.0 / s.ElapsedMs) : 0,
        s.FailedCalls, s.CallsPerReplica, s.History);

    // A different stream per job, round and chain, the same for the same job seed.
    private static long Seed(long jobSeed, int round, int chain) =>
        unchecked((jobSeed * (long)0x9E3779B97F4A7C15) + (round * 0x632BE59BD9B4E019L) + chain);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: a solver call failed after retries, the round goes on without it: {Reason}")]
    private static partial void LogCallFailed(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} {Status}: best length {BestLength} after {Rounds} rounds")]
    private static partial void LogFinished(ILogger logger, string jobId, string status, long bestLength, int rounds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: could not publish progress: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string jobId, string reason);
}

public static class JobStatus
{
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";
    public const string Failed = "failed";
}

/// <summary>The job as stored in actor state.</summary>
public sealed class JobState
{
    public required JobSpec Spec { get; init; }

    public required string Status { get; set; }

    public required DateTimeOffset StartedAt { get; init; }

    public required int[] BestTour { get; set; }

    public required long BestLength { get; set; }

    /// <summary>Each chain's tour after the last round (the independent strategy continues from these).</summary>
    public required int[][] Chains { get; init; }

    public int Round { get; set; }

    public long ElapsedMs { get; set; }

    public long Moves { get; set; }

    public int SucceededCalls { get; set; }

    public int FailedCalls { get; set; }

    public Dictionary<string, int> CallsPerReplica { get; init; } = [];

    public List<RoundRecord> History { get; init; } = [];
}
