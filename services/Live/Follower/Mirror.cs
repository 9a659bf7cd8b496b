using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Platform.Live.Views;

namespace Platform.Live.Follower;

/// <summary>
/// A follower's copy of the leader's views. Deltas are applied strictly in sequence order; the broker may hand
/// them over out of order (the sidecar delivers on several workers), so early ones wait in <c>_pending</c>.
/// A sequence still missing after <see cref="LiveOptions.GapTimeout"/>, a delta from another epoch (the leader
/// restarted) or no snapshot yet: the follower fetches the leader's snapshot (invocation of <c>live-leader</c>)
/// and carries on from it. Every applied delta goes to the <see cref="StreamHub"/> under the same lock, so a
/// client registering sees each change exactly once.
/// </summary>
public sealed class Mirror(StreamHub hub, IHttpClientFactory http, IOptions<LiveOptions> options, ILogger<Mirror> logger, TimeProvider clock)
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, Delta> _pending = [];
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private ViewState? _state;
    private string? _epoch;
    private long _seq;
    private DateTimeOffset? _gapSince;
    private string? _resyncReason = "start";

    public MirrorStatus Status()
    {
        lock (_lock)
        {
            return new MirrorStatus(_epoch, _seq, _state is not null, Resyncs, GapsDetected, _pending.Count, hub.Clients);
        }
    }

    public int Resyncs { get; private set; }

    public int GapsDetected { get; private set; }

    /// <summary>A delta from <c>views</c>.</summary>
    public void OnDelta(Delta delta)
    {
        if (options.Value.DropSequence == delta.Seq)
        {
            return; // the test hook: lost on the way
        }

        lock (_lock)
        {
            if (_state is null || delta.Epoch != _epoch)
            {
                if (_pending.Count < options.Value.ReplayWindow)
                {
                    _pending[delta.Seq] = delta;
                }

                RequestResync(_state is null ? "no snapshot yet" : $"new epoch {delta.Epoch}");
                return;
            }

            if (delta.Seq <= _seq)
            {
                return; // a redelivery
            }

            _pending[delta.Seq] = delta;
            Drain();
        }
    }

    // Under _lock: applies what follows on from _seq; notes when a gap starts.
    private void Drain()
    {
        while (_pending.Count > 0)
        {
            var (seq, delta) = _pending.First();
            if (seq <= _seq || delta.Epoch != _epoch)
            {
                _pending.Remove(seq);
                continue;
            }

            if (seq != _seq + 1)
            {
                if (_gapSince is null)
                {
                    _gapSince = clock.GetUtcNow();
                    GapsDetected++;
                    Log.Gap(logger, _seq, _seq + 1);
                    _wake.Release();
                }

                if (_pending.Count >= options.Value.ReplayWindow)
                {
                    RequestResync("too many deltas waiting behind a gap");
                }

                return;
            }

            _pending.Remove(seq);
            _state!.Apply(delta);
            _seq = seq;
            hub.Publish(delta);
        }

        _gapSince = null;
    }

    private void RequestResync(string reason)
    {
        if (_resyncReason is null)
        {
            _resyncReason = reason;
            _wake.Release();
        }
    }

    /// <summary>Watches for gaps that do not fill and for resync requests; fetches the snapshot.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _wake.WaitAsync(TimeSpan.FromMilliseconds(100), ct);
            string? reason;
            lock (_lock)
            {
                if (_resyncReason is null && _gapSince is { } since && clock.GetUtcNow() - since >= options.Value.GapTimeout)
                {
                    _resyncReason = $"sequence {_seq + 1} missing for {options.Value.GapTimeout.TotalMilliseconds} ms";
                }

                reason = _resyncReason;
            }

            if (reason is not null)
            {
                await ResyncAsync(reason, ct);
            }
        }
    }

    private async Task ResyncAsync(string reason, CancellationToken ct)
    {
        Snapshot? snapshot;
        try
        {
            using var client = http.CreateClient(Components.LeaderAppId);
            snapshot = await client.GetFromJsonAsync<Snapshot>("/snapshot", JsonSerializerOptions.Web, ct);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            Log.SnapshotFailed(logger, e.Message);
            await Task.Delay(TimeSpan.FromMilliseconds(500), clock, ct);
            return;
        }

        if (snapshot is null)
        {
            return;
        }

        lock (_lock)
        {
            _state = ViewState.From(snapshot);
            _epoch = snapshot.Epoch;
            _seq = snapshot.Seq;
            _gapSince = null;
            _resyncReason = null;
            Resyncs++;
            hub.Reset(snapshot);
            Drain();
        }

        Log.Resynced(logger, snapshot.Epoch, snapshot.Seq, reason);
    }

    /// <summary>
    /// Registers a client under the lock: it gets what it missed since <paramref name="lastEventId"/> (when the
    /// follower still has it) or the user's snapshot, then every later delta.
    /// </summary>
    public StreamClient? Connect(string user, string? lastEventId)
    {
        lock (_lock)
        {
            if (_state is null)
            {
                return null;
            }

            return hub.Connect(user, lastEventId, _epoch!, _seq, () => _state.ToSnapshot(_epoch!, _seq));
        }
    }
}

public sealed record MirrorStatus(string? Epoch, long Seq, bool Ready, int Resyncs, int GapsDetected, int Pending, int Clients);
