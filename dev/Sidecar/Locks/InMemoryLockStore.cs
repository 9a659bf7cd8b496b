using System.Collections.Concurrent;

namespace Platform.Sidecar.Locks;

/// <summary>
/// <c>lock.in-memory</c>: a lock table in this process. components-contrib has no in-memory lock store (its only
/// lock component is <c>lock/redis</c>), so the type is this sidecar's own; it behaves as <c>lock.redis</c> does
/// (take if free or expired, release only by the owner). Like <c>pubsub.in-memory</c> here, one table is shared by
/// the sidecars of this process that use the same registry folder, so replicas of an app started together in one
/// process (tests, dev/Host) exclude each other.
/// </summary>
public sealed class InMemoryLockStore : ILockStore
{
    private static readonly ConcurrentDictionary<string, InMemoryLockStore> Shared = new(StringComparer.Ordinal);

    private readonly Dictionary<string, (string Owner, DateTimeOffset ExpiresAt)> _locks = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private int _sinceSweep;

    private InMemoryLockStore(TimeProvider time) => _time = time;

    /// <summary>The table named <paramref name="name"/> among the sidecars of this process registered in <paramref name="scope"/>.</summary>
    public static InMemoryLockStore ForName(string scope, string name, TimeProvider time) =>
        Shared.GetOrAdd($"{scope}|{name}", _ => new InMemoryLockStore(time));

    public Task<bool> TryLockAsync(string key, string owner, int expiryInSeconds, CancellationToken ct)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (++_sinceSweep >= 1024)
            {
                // Expired locks nobody touches again would stay forever: drop them now and then.
                _sinceSweep = 0;
                foreach (var expired in _locks.Where(l => l.Value.ExpiresAt <= now).Select(l => l.Key).ToList())
                {
                    _locks.Remove(expired);
                }
            }

            if (_locks.TryGetValue(key, out var held) && held.ExpiresAt > now)
            {
                return Task.FromResult(false);
            }

            _locks[key] = (owner, now.AddSeconds(expiryInSeconds));
            return Task.FromResult(true);
        }
    }

    public Task<UnlockStatus> UnlockAsync(string key, string owner, CancellationToken ct)
    {
        lock (_gate)
        {
            if (!_locks.TryGetValue(key, out var held) || held.ExpiresAt <= _time.GetUtcNow())
            {
                _locks.Remove(key);
                return Task.FromResult(UnlockStatus.LockDoesNotExist);
            }

            if (held.Owner != owner)
            {
                return Task.FromResult(UnlockStatus.LockBelongsToOthers);
            }

            _locks.Remove(key);
            return Task.FromResult(UnlockStatus.Success);
        }
    }

    /// <summary>The table outlives one sidecar (it is shared); nothing to close.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
