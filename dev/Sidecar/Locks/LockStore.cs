namespace Platform.Sidecar.Locks;

/// <summary>What an unlock found (components-contrib <c>lock/responses.go</c> <c>Status</c>; the numbers are daprd's).</summary>
public enum UnlockStatus
{
    Success = 0,
    LockDoesNotExist = 1,
    LockBelongsToOthers = 2,
    InternalError = 3,
}

/// <summary>A lock store component (components-contrib <c>lock.Store</c>). Keys reach it already prefixed (<c>lock||appid||resource</c>).</summary>
public interface ILockStore : IAsyncDisposable
{
    /// <summary>Takes the lock for <paramref name="owner"/> if nobody holds it; false when someone does.</summary>
    Task<bool> TryLockAsync(string key, string owner, int expiryInSeconds, CancellationToken ct);

    /// <summary>Releases the lock if <paramref name="owner"/> holds it.</summary>
    Task<UnlockStatus> UnlockAsync(string key, string owner, CancellationToken ct);
}
