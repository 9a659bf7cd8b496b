namespace Platform.Sidecar.State;

/// <summary>
/// Dapr's concurrency modes: with first-write an ETag must match (or, without one, the key must not exist).
/// <see cref="Unspecified"/> is a request that names none; stores treat it apart from an explicit last-write
/// (state.redis ignores an upsert's ETag only when last-write is asked for).
/// </summary>
public enum Concurrency
{
    Unspecified,
    LastWrite,
    FirstWrite,
}

/// <summary>A stored value and its ETag.</summary>
public sealed record StateItem(ReadOnlyMemory<byte> Data, string ETag, DateTimeOffset? ExpiresAt);

/// <summary>An upsert or a delete, on an already prefixed key.</summary>
public abstract record StateOperation(string Key, string? ETag, Concurrency Concurrency);

/// <summary>Write <paramref name="Value"/>; <paramref name="TtlSeconds"/> &gt; 0 expires it, ≤ 0 removes an expiry.</summary>
public sealed record Upsert(string Key, ReadOnlyMemory<byte> Value, string? ETag, Concurrency Concurrency, int? TtlSeconds)
    : StateOperation(Key, ETag, Concurrency);

public sealed record Delete(string Key, string? ETag, Concurrency Concurrency) : StateOperation(Key, ETag, Concurrency);

/// <summary>The ETag given does not match the stored one (or first-write found the key present).</summary>
public sealed class ETagMismatchException(string key) : Exception($"etag mismatch on key {key}")
{
    public string Key { get; } = key;
}

/// <summary>The ETag is not one this store could have issued (e.g. not a number for Redis).</summary>
public sealed class ETagInvalidException(string key) : Exception($"invalid etag on key {key}")
{
    public string Key { get; } = key;
}

/// <summary>A state store component. Keys reach it already prefixed (<c>appid||key</c>).</summary>
public interface IStateStore : IAsyncDisposable
{
    Task<StateItem?> GetAsync(string key, CancellationToken ct);

    /// <summary>
    /// Applies all operations or none; throws <see cref="ETagMismatchException"/> or <see cref="ETagInvalidException"/>.
    /// Returns the ETag each operation left (an upsert's new ETag; null for a delete), so a caller can write the same
    /// key again without reading it first.
    /// </summary>
    Task<IReadOnlyList<string?>> ApplyAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct);
}
