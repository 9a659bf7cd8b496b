namespace Platform.Sidecar.State;

/// <summary>
/// <c>state.in-memory</c>: a process-local map. As in components-contrib, the ETag is a new UUID on every
/// write, and a transaction is applied under one lock, so it is atomic. Its ETag rules are contrib's
/// <c>doValidateEtag</c>: an ETag must match an existing key (a missing key is a mismatch, unlike
/// <c>state.redis</c>); first-write without an ETag, upsert or delete, only acts on a key that does not exist.
/// </summary>
public sealed class InMemoryStateStore(TimeProvider time) : IStateStore
{
    private readonly Dictionary<string, Entry> _items = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private sealed record Entry(byte[] Data, string ETag, DateTimeOffset? ExpiresAt);

    public Task<StateItem?> GetAsync(string key, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult(Live(key) is { } e ? new StateItem(e.Data, e.ETag, e.ExpiresAt) : null);
        }
    }

    public Task<IReadOnlyList<string?>> ApplyAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var etags = new string?[operations.Count];
        lock (_gate)
        {
            foreach (var op in operations)
            {
                var current = Live(op.Key);
                if (op.Concurrency == Concurrency.FirstWrite || !string.IsNullOrEmpty(op.ETag))
                {
                    var ok = string.IsNullOrEmpty(op.ETag)
                        ? current is null
                        : current is not null && current.ETag == op.ETag;
                    if (!ok)
                    {
                        throw new ETagMismatchException(op.Key);
                    }
                }
            }

            var now = time.GetUtcNow();
            for (var i = 0; i < operations.Count; i++)
            {
                var op = operations[i];
                if (op is Upsert u)
                {
                    var keep = u.TtlSeconds is null ? Live(u.Key)?.ExpiresAt : null;
                    var expires = u.TtlSeconds is > 0 ? now.AddSeconds(u.TtlSeconds.Value) : keep;
                    etags[i] = Guid.NewGuid().ToString();
                    _items[u.Key] = new Entry(u.Value.ToArray(), etags[i]!, expires);
                }
                else
                {
                    _items.Remove(op.Key);
                }
            }
        }

        return Task.FromResult<IReadOnlyList<string?>>(etags);
    }

    private Entry? Live(string key)
    {
        if (!_items.TryGetValue(key, out var e))
        {
            return null;
        }

        if (e.ExpiresAt is { } at && at <= time.GetUtcNow())
        {
            _items.Remove(key);
            return null;
        }

        return e;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
