using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// A Resiliency circuit breaker as Dapr describes it: closed until <c>trip</c> consecutive failures, then open
/// (calls fail at once, never reaching the target) for <c>timeout</c>, then half-open: up to <c>maxRequests</c>
/// trial calls; a success closes it, a failure opens it again. <c>interval</c> &gt; 0 clears the failure count
/// periodically while closed.
/// </summary>
public sealed class CircuitBreaker(BreakerPolicy policy, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private int _failures;
    private DateTimeOffset _openedAt;
    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _trials;
    private BreakerState _state;

    public BreakerState State
    {
        get
        {
            lock (_gate)
            {
                return Current();
            }
        }
    }

    public bool TryEnter()
    {
        lock (_gate)
        {
            switch (Current())
            {
                case BreakerState.Open:
                    return false;
                case BreakerState.HalfOpen:
                    if (_trials >= policy.MaxRequests)
                    {
                        return false;
                    }

                    _trials++;
                    return true;
                default:
                    return true;
            }
        }
    }

    public void Record(bool success)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (success)
            {
                _failures = 0;
                _state = BreakerState.Closed;
                _trials = 0;
                return;
            }

            if (_state == BreakerState.HalfOpen)
            {
                Open(now);
                return;
            }

            if (policy.Interval > TimeSpan.Zero && now - _windowStart > policy.Interval)
            {
                _windowStart = now;
                _failures = 0;
            }

            if (++_failures >= policy.TripAfter)
            {
                Open(now);
            }
        }
    }

    private void Open(DateTimeOffset now)
    {
        _state = BreakerState.Open;
        _openedAt = now;
        _trials = 0;
    }

    private BreakerState Current()
    {
        if (_state == BreakerState.Open && _time.GetUtcNow() - _openedAt >= policy.Timeout)
        {
            _state = BreakerState.HalfOpen;
            _trials = 0;
        }

        return _state;
    }
}

public enum BreakerState
{
    Closed,
    Open,
    HalfOpen,
}
