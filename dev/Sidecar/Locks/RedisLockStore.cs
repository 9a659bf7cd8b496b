using StackExchange.Redis;

namespace Platform.Sidecar.Locks;

/// <summary>
/// <c>lock.redis</c> with components-contrib's layout (<c>lock/redis/standalone.go</c>): the lock is the string key
/// holding the owner, set with <c>SET key owner EX seconds NX</c>; unlock runs a script that deletes the key only
/// when it still holds the owner (-1: no such lock, -2: another owner's).
/// </summary>
public sealed class RedisLockStore(ConnectionMultiplexer redis, int database) : ILockStore
{
    // The same checks, in the same order, as contrib's unlockScript.
    private const string UnlockScript =
        "local v = redis.call('get', KEYS[1]); if v == false then return -1 end; if v ~= ARGV[1] then return -2 else return redis.call('del', KEYS[1]) end";

    private IDatabase Db => redis.GetDatabase(database);

    public Task<bool> TryLockAsync(string key, string owner, int expiryInSeconds, CancellationToken ct) =>
        Db.StringSetAsync(key, owner, TimeSpan.FromSeconds(expiryInSeconds), When.NotExists);

    public async Task<UnlockStatus> UnlockAsync(string key, string owner, CancellationToken ct)
    {
        var result = (long)await Db.ScriptEvaluateAsync(UnlockScript, [key], [owner]);
        return result switch
        {
            >= 0 => UnlockStatus.Success,
            -1 => UnlockStatus.LockDoesNotExist,
            -2 => UnlockStatus.LockBelongsToOthers,
            _ => UnlockStatus.InternalError,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await redis.CloseAsync();
        redis.Dispose();
    }
}
