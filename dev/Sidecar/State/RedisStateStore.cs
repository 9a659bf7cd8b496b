using System.Globalization;
using StackExchange.Redis;

namespace Platform.Sidecar.State;

/// <summary>
/// <c>state.redis</c> with components-contrib's data layout, so data written here is readable by the real
/// runtime and the other way round: each key is a Redis hash with field <c>data</c> (the value bytes), field
/// <c>version</c> (an integer bumped by HINCRBY on each write; the ETag is that number as a string) and, once
/// the key has been written under first-write concurrency, field <c>first-write</c> = <c>0</c>.
/// <para>
/// The ETag rules are contrib's (<c>state/redis/redis.go</c>, <c>setDefaultQuery</c> and <c>delDefaultQuery</c>),
/// which differ from <c>state.in-memory</c>'s: a key that does not exist is written (or deleted) whatever ETag
/// the call carries; an ETag is otherwise compared with the version; a write without an ETag on an existing key
/// is refused only if that key carries the <c>first-write</c> flag. So first-write without an ETag creates a
/// key and then guards it; it does not guard a key another writer created under last-write.
/// </para>
/// All checks and writes of one call run in one Lua script, so a transaction is atomic (Dapr's own MULTI
/// pipeline applies the operations that pass and reports the first that fails; atomic is the stricter of the two).
/// </summary>
public sealed class RedisStateStore(ConnectionMultiplexer redis, int database) : IStateStore
{
    // ARGV layout per operation (5 values): kind ("u"/"d"), etag ("0" = none, as contrib sends it), firstWrite
    // ("1"/"0"), data, ttl ("" = keep). Phase 1 checks every ETag; phase 2 writes. A failed check returns the
    // index of the operation; success returns each key's new version (0 for a delete).
    private const string Script = """
        local n = #KEYS
        for i = 1, n do
          local base = (i - 1) * 5
          local etag = ARGV[base + 2]
          local ver = redis.call('HGET', KEYS[i], 'version')
          if ver and ver ~= etag then
            if etag ~= '0' then return {'mismatch', i} end
            if ARGV[base + 1] == 'u' and redis.call('HEXISTS', KEYS[i], 'first-write') == 1 then return {'mismatch', i} end
          end
        end
        local versions = {'ok', 0}
        for i = 1, n do
          local base = (i - 1) * 5
          if ARGV[base + 1] == 'u' then
            redis.call('HSET', KEYS[i], 'data', ARGV[base + 4])
            if ARGV[base + 3] == '1' then redis.call('HSET', KEYS[i], 'first-write', 0) end
            versions[i + 2] = redis.call('HINCRBY', KEYS[i], 'version', 1)
            local ttl = ARGV[base + 5]
            if ttl ~= '' then
              local t = tonumber(ttl)
              if t > 0 then redis.call('EXPIRE', KEYS[i], t) else redis.call('PERSIST', KEYS[i]) end
            end
          else
            redis.call('DEL', KEYS[i])
            versions[i + 2] = 0
          end
        end
        return versions
        """;

    private IDatabase Db => redis.GetDatabase(database);

    // The hash and its TTL in one round trip (issue 14: a read was HGETALL, then PTTL).
    private const string GetScript = "return {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1])}";

    public async Task<StateItem?> GetAsync(string key, CancellationToken ct)
    {
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(GetScript, [key]))!;
        var fields = (RedisResult[])result[0]!;
        if (fields.Length == 0)
        {
            return null;
        }

        byte[]? data = null;
        string? version = null;
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            var name = (string?)fields[i];
            if (name == "data")
            {
                data = (byte[]?)fields[i + 1];
            }
            else if (name == "version")
            {
                version = (string?)fields[i + 1];
            }
        }

        var ttlMs = (long)result[1];
        return new StateItem(data ?? [], version ?? "", ttlMs > 0 ? DateTimeOffset.UtcNow.AddMilliseconds(ttlMs) : null);
    }

    public async Task<IReadOnlyList<string?>> ApplyAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var keys = new RedisKey[operations.Count];
        var args = new RedisValue[operations.Count * 5];
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i];
            keys[i] = op.Key;
            var etag = op.ETag is { Length: > 0 } given ? given : "0";
            if (op is Upsert)
            {
                // As contrib's parseETag: an upsert ignores its ETag under an explicit last-write; otherwise
                // the ETag must be a version number, compared as a number.
                if (op.Concurrency == Concurrency.LastWrite)
                {
                    etag = "0";
                }
                else if (etag != "0")
                {
                    etag = long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
                        ? version.ToString(CultureInfo.InvariantCulture)
                        : throw new ETagInvalidException(op.Key);
                }
            }

            // A delete always checks its ETag, whatever the concurrency (contrib's Delete): one that is no
            // version number simply does not match an existing key.

            args[i * 5] = op is Upsert ? "u" : "d";
            args[(i * 5) + 1] = etag;
            args[(i * 5) + 2] = op.Concurrency == Concurrency.FirstWrite ? "1" : "0";
            args[(i * 5) + 3] = op is Upsert u ? u.Value : RedisValue.EmptyString;
            args[(i * 5) + 4] = op is Upsert { TtlSeconds: { } ttl } ? ttl.ToString(CultureInfo.InvariantCulture) : "";
        }

        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(Script, keys, args))!;
        if ((string?)result[0] == "mismatch")
        {
            throw new ETagMismatchException(operations[(int)result[1] - 1].Key);
        }

        var etags = new string?[operations.Count];
        for (var i = 0; i < operations.Count; i++)
        {
            etags[i] = operations[i] is Upsert ? ((long)result[i + 2]).ToString(CultureInfo.InvariantCulture) : null;
        }

        return etags;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
