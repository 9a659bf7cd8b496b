namespace Platform.Sidecar.Actors;

/// <summary>
/// Turn-based concurrency for one actor, as daprd's actor lock (<c>pkg/actors/targets/app/lock</c>): one call at a
/// time, waiting callers served first come, first served. With reentrancy, a call carrying the reentrancy id of the
/// call holding the turn enters at once, one level deeper; deeper than the type's <c>maxStackDepth</c> is refused.
/// </summary>
internal sealed class ActorTurnLock
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _queue = new();
    private bool _held;
    private string? _holderId;
    private int _depth;

    /// <summary>True while a call holds the turn or waits for it.</summary>
    public bool Busy
    {
        get
        {
            lock (_gate)
            {
                return _held || _queue.Count > 0;
            }
        }
    }

    /// <summary>Waits for the turn. Dispose the result to pass the turn on.</summary>
    /// <param name="reentrancyId">the call's reentrancy id; null when the actor type is not reentrant</param>
    /// <param name="maxDepth">how deep reentrant calls may nest</param>
    /// <param name="ct">gives up waiting</param>
    public async ValueTask<IDisposable> EnterAsync(string? reentrancyId, int maxDepth, CancellationToken ct)
    {
        LinkedListNode<Waiter> node;
        lock (_gate)
        {
            if (!_held)
            {
                _held = true;
                _holderId = reentrancyId;
                _depth = 1;
                return new Turn(this);
            }

            if (reentrancyId is not null && reentrancyId == _holderId)
            {
                if (_depth >= maxDepth)
                {
                    throw ActorErrors.StackDepth();
                }

                _depth++;
                return new Turn(this);
            }

            node = _queue.AddLast(new Waiter(reentrancyId));
        }

        await using (ct.Register(() => Abandon(node)))
        {
            await node.Value.Granted.Task;
        }

        return new Turn(this);
    }

    /// <summary>Takes the turn only if nobody holds it or waits for it (idle deactivation must not queue behind calls).</summary>
    public bool TryEnter(out IDisposable turn)
    {
        lock (_gate)
        {
            if (_held || _queue.Count > 0)
            {
                turn = null!;
                return false;
            }

            _held = true;
            _holderId = null;
            _depth = 1;
            turn = new Turn(this);
            return true;
        }
    }

    private void Release()
    {
        lock (_gate)
        {
            if (_depth > 1)
            {
                _depth--;
                return;
            }

            while (_queue.First is { } next)
            {
                _queue.RemoveFirst();
                if (next.Value.Granted.TrySetResult())
                {
                    _holderId = next.Value.ReentrancyId;
                    _depth = 1;
                    return;
                }
            }

            _held = false;
            _holderId = null;
            _depth = 0;
        }
    }

    private void Abandon(LinkedListNode<Waiter> node)
    {
        lock (_gate)
        {
            // Still queued: leave the queue. Already granted: the caller goes on and releases the turn itself.
            if (node.List is not null)
            {
                _queue.Remove(node);
                node.Value.Granted.TrySetCanceled();
            }
        }
    }

    private sealed class Waiter(string? reentrancyId)
    {
        public string? ReentrancyId { get; } = reentrancyId;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Turn(ActorTurnLock owner) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release();
            }
        }
    }
}
