using System.Threading.Channels;
using Dapr.Client;
using Platform.Live.Views;

namespace Platform.Live.Leader;

/// <summary>
/// The one place the shared views are computed. Events from the four streams are turned into deltas under one
/// lock (so sequence numbers follow the order the state changed in), and one loop publishes them in that order.
/// Deltas carry the new value of one entry, never an increment: applying one twice changes nothing.
/// </summary>
public sealed class ViewsLeader(DaprClient dapr, ILogger<ViewsLeader> logger, TimeProvider clock)
{
    private const int AheadKept = 256;

    private readonly Lock _lock = new();
    private readonly Channel<Delta> _outbox = Channel.CreateUnbounded<Delta>(new UnboundedChannelOptions { SingleReader = true });
    private ViewState _state = new();

    // Per account, the sequences applied above the contiguous watermark (events of one account can arrive out of
    // order: the sidecar delivers on several workers). Leader-only bookkeeping, not part of the views.
    private readonly Dictionary<string, SortedSet<long>> _ahead = new(StringComparer.Ordinal);
    private readonly HashSet<string> _alertIds = new(StringComparer.Ordinal);
    private long _seq;
    private long _savedSeq;

    /// <summary>This run of the leader: a follower that sees another epoch resyncs.</summary>
    public string Epoch { get; } = Guid.NewGuid().ToString("N")[..12];

    public ChannelReader<Delta> Outbox => _outbox.Reader;

    public Snapshot Snapshot()
    {
        lock (_lock)
        {
            return _state.ToSnapshot(Epoch, _seq);
        }
    }

    /// <summary>Continues from saved views (a restarted leader): same sequence onwards, a new epoch.</summary>
    public void Restore(Snapshot saved)
    {
        lock (_lock)
        {
            _state = ViewState.From(saved);
            _seq = saved.Seq;
            _savedSeq = saved.Seq;
            foreach (var alert in saved.Alerts)
            {
                _alertIds.Add(alert.AlertId);
            }
        }
    }

    /// <summary>The snapshot to save, or null when nothing changed since the last one saved.</summary>
    public Snapshot? Unsaved()
    {
        lock (_lock)
        {
            return _seq == _savedSeq ? null : _state.ToSnapshot(Epoch, _seq);
        }
    }

    public void Saved(long seq)
    {
        lock (_lock)
        {
            _savedSeq = Math.Max(_savedSeq, seq);
        }
    }

    /// <summary>False when the event can never apply (no account or sequence).</summary>
    public bool OnLedger(LedgerEvent e)
    {
        if (string.IsNullOrEmpty(e.AccountId) || e.Sequence < 1 || string.IsNullOrEmpty(e.Kind))
        {
            return false;
        }

        lock (_lock)
        {
            var known = _state.Accounts.GetValueOrDefault(e.AccountId);
            var ahead = _ahead.TryGetValue(e.AccountId, out var a) ? a : null;
            var watermark = known?.Sequence ?? 0;
            if (e.Sequence <= watermark || ahead?.Contains(e.Sequence) == true)
            {
                return true; // a redelivery
            }

            if (e.Sequence > watermark + 1)
            {
                ahead ??= _ahead[e.AccountId] = [];
                ahead.Add(e.Sequence);
                if (ahead.Count > AheadKept)
                {
                    ahead.Remove(ahead.Min); // a gap that never fills must not grow without bound
                }
            }
            else
            {
                watermark = e.Sequence;
                while (ahead?.Remove(watermark + 1) == true)
                {
                    watermark++;
                }
            }

            var account = new AccountView(e.AccountId, known?.Owner ?? e.Owner, (known?.Balance ?? 0) + Effect(e), watermark,
                e.OccurredAt ?? clock.GetUtcNow());
            var totals = _state.Totals with
            {
                Accounts = _state.Totals.Accounts + (known is null ? 1 : 0),
                Balance = _state.Totals.Balance + Effect(e),
            };
            Emit(DeltaKinds.Account, account: account, totals: totals);
            return true;
        }
    }

    private static decimal Effect(LedgerEvent e) => e.Kind switch
    {
        "Deposited" or "TransferCredited" or "TransferCompensated" => e.Amount ?? 0,
        "Withdrawn" or "TransferDebited" => -(e.Amount ?? 0),
        _ => 0,
    };

    public bool OnAlert(FraudSuspected e)
    {
        if (string.IsNullOrEmpty(e.AlertId) || string.IsNullOrEmpty(e.AccountId))
        {
            return false;
        }

        lock (_lock)
        {
            if (!_alertIds.Add(e.AlertId))
            {
                return true; // the same alert again (at-least-once delivery)
            }

            if (_alertIds.Count > 10_000)
            {
                _alertIds.Clear();
                _alertIds.UnionWith(_state.Alerts.Select(x => x.AlertId));
                _alertIds.Add(e.AlertId);
            }

            var owner = _state.Accounts.GetValueOrDefault(e.AccountId)?.Owner;
            var alert = new AlertView(e.AlertId, e.Rule ?? "unknown", e.AccountId, owner, e.Sequence, e.Details, e.OccurredAt ?? clock.GetUtcNow());
            Emit(DeltaKinds.Alert, alert: alert, totals: _state.Totals with { Alerts = _state.Totals.Alerts + 1 });
            return true;
        }
    }

    public bool OnRoute(RouteProgress e)
    {
        if (string.IsNullOrEmpty(e.JobId) || e.Tour is null)
        {
            return false;
        }

        lock (_lock)
        {
            var known = _state.Jobs.GetValueOrDefault(e.JobId);
            var status = e.Status ?? "running";
            // Rounds can arrive out of order; an older round never replaces a newer one, but the end always lands.
            if (known is not null && (known.Status != "running" || (status == "running" && e.Round < known.Round)))
            {
                return true;
            }

            var job = new JobView(e.JobId, e.Owner, e.Name, e.Round, status, e.BestLength, e.Tour,
                known?.Cities is null ? e.Cities : null, e.ElapsedMs, e.BudgetMs, clock.GetUtcNow());
            var wasRunning = known?.Status == "running";
            var running = _state.Totals.JobsRunning + (status == "running" ? 1 : 0) - (wasRunning ? 1 : 0);
            Emit(DeltaKinds.Job, job: job, totals: running == _state.Totals.JobsRunning ? null : _state.Totals with { JobsRunning = running });
            return true;
        }
    }

    public bool OnLoad(SolverLoad e)
    {
        if (string.IsNullOrEmpty(e.ReplicaId))
        {
            return false;
        }

        lock (_lock)
        {
            // Pub/sub does not promise order: a sample older than the one shown (by the solver's own clock) is
            // acknowledged and dropped, so the view always ends on each solver's newest sample.
            if (e.At is { } at && _state.Loads.TryGetValue(e.ReplicaId, out var shown) && shown.At >= at)
            {
                return true;
            }

            Emit(DeltaKinds.Load, load: new LoadView(e.ReplicaId, e.Cpu, e.MovesPerSecond, e.InFlight, e.At ?? clock.GetUtcNow()));
            return true;
        }
    }

    // Under _lock: the next sequence number, applied here, then queued for publishing in this order.
    private void Emit(string kind, AccountView? account = null, AlertView? alert = null, JobView? job = null, LoadView? load = null, Totals? totals = null)
    {
        var delta = new Delta(Epoch, ++_seq, 0, kind, account, alert, job, load, totals);
        _state.Apply(delta);
        _outbox.Writer.TryWrite(delta);
    }

    /// <summary>
    /// Publishes the deltas in sequence order. Whatever queued up while the previous publish was on its way goes
    /// in one bulk publish (one round trip instead of one per delta, so a slow broker does not make a backlog);
    /// entries the broker refused are retried. Followers put deltas back in order, so a retried one is fine.
    /// </summary>
    public async Task PublishAsync(CancellationToken ct)
    {
        var batch = new List<Delta>(MaxBatch);
        while (await _outbox.Reader.WaitToReadAsync(ct))
        {
            while (batch.Count < MaxBatch && _outbox.Reader.TryRead(out var delta))
            {
                batch.Add(delta);
            }

            var at = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var pending = batch.Select(d => d with { At = at }).ToList();
            batch.Clear();
            for (var attempt = 1; pending.Count > 0; attempt++)
            {
                try
                {
                    if (pending.Count == 1)
                    {
                        await dapr.PublishEventAsync(Components.ViewsPubSub, Components.ViewsTopic, pending[0], ct);
                        break;
                    }

                    var response = await dapr.BulkPublishEventAsync(Components.ViewsPubSub, Components.ViewsTopic, pending, cancellationToken: ct);
                    if (response.FailedEntries.Count == 0)
                    {
                        break;
                    }

                    var failed = response.FailedEntries.Select(f => f.Entry.EventData).ToHashSet();
                    pending = [.. pending.Where(failed.Contains)];
                    Log.PublishFailed(logger, pending[0].Seq, attempt, response.FailedEntries[0].ErrorMessage);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.PublishFailed(logger, pending[0].Seq, attempt, e.Message);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * attempt)), clock, ct);
            }
        }
    }

    private const int MaxBatch = 256;
}
