namespace Platform.Live.Views;

/// <summary>
/// The views themselves. The leader changes them from the event streams and the followers by applying the
/// leader's deltas; both use <see cref="Apply"/>, so a mirror is the leader's state by construction. Not
/// thread-safe: each owner serializes access.
/// </summary>
public sealed class ViewState
{
    public const int AlertsKept = 50;
    public const int JobsKept = 20;

    private readonly Dictionary<string, AccountView> _accounts = new(StringComparer.Ordinal);
    private readonly LinkedList<AlertView> _alerts = new();
    private readonly Dictionary<string, JobView> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoadView> _loads = new(StringComparer.Ordinal);

    public Totals Totals { get; private set; } = new(0, 0, 0, 0);

    public IReadOnlyDictionary<string, AccountView> Accounts => _accounts;

    public IEnumerable<AlertView> Alerts => _alerts;

    public IReadOnlyDictionary<string, JobView> Jobs => _jobs;

    public IReadOnlyDictionary<string, LoadView> Loads => _loads;

    public void Apply(Delta delta)
    {
        if (delta.Account is { } account)
        {
            _accounts[account.AccountId] = account;
        }

        if (delta.Alert is { } alert)
        {
            _alerts.AddFirst(alert);
            while (_alerts.Count > AlertsKept)
            {
                _alerts.RemoveLast();
            }
        }

        if (delta.Job is { } job)
        {
            // Cities travel once per job: a later delta without them keeps the ones known.
            _jobs[job.JobId] = job.Cities is null && _jobs.TryGetValue(job.JobId, out var known) ? job with { Cities = known.Cities } : job;
            if (_jobs.Count > JobsKept)
            {
                _jobs.Remove(_jobs.Values.MinBy(j => j.UpdatedAt)!.JobId);
            }
        }

        if (delta.Load is { } load)
        {
            _loads[load.ReplicaId] = load;
        }

        if (delta.Totals is { } totals)
        {
            Totals = totals;
        }
    }

    public Snapshot ToSnapshot(string epoch, long seq) =>
        new(epoch, seq, [.. _accounts.Values.OrderBy(a => a.AccountId, StringComparer.Ordinal)], [.. _alerts],
            [.. _jobs.Values.OrderByDescending(j => j.UpdatedAt)], [.. _loads.Values.OrderBy(l => l.ReplicaId, StringComparer.Ordinal)], Totals);

    public static ViewState From(Snapshot snapshot)
    {
        var state = new ViewState();
        foreach (var account in snapshot.Accounts)
        {
            state._accounts[account.AccountId] = account;
        }

        foreach (var alert in snapshot.Alerts)
        {
            state._alerts.AddLast(alert);
        }

        foreach (var job in snapshot.Jobs)
        {
            state._jobs[job.JobId] = job;
        }

        foreach (var load in snapshot.Loads)
        {
            state._loads[load.ReplicaId] = load;
        }

        state.Totals = snapshot.Totals;
        return state;
    }

    /// <summary>What one user may see: their accounts, alerts and jobs (and alerts and jobs with no owner), plus the shared panels.</summary>
    public static Snapshot ForUser(Snapshot all, string user) => all with
    {
        Accounts = [.. all.Accounts.Where(a => a.Owner == user)],   // no owner yet: nobody's until AccountOpened arrives
        Alerts = [.. all.Alerts.Where(a => a.Owner is null || a.Owner == user)],
        Jobs = [.. all.Jobs.Where(j => j.Owner is null || j.Owner == user)],
    };
}
