using System.Globalization;
using StackExchange.Redis;

namespace Platform.Sidecar.State;

/// <summary>
/// <c>state.redis</c> with components-contrib's data layout, so data written here is readable by the real
/// runtime and the other way round: each key is a Redis hash with field <c>data</c> (the value bytes) and
/// field <c>version</c> (an integer bumped by HINCRBY on each write; the ETag is that number as a string);
/// first-write without an ETag only creates. All checks and writes of one call run in one Lua script, so a
/// transaction is atomic (Dapr's own MULTI pipeline is not; atomic is the stricter of the two).
/// </summary>
public sealed class RedisStateStore(ConnectionMultiplexer redis, int database) : IStateStore
{
    // ARGV layout per operation (6 values): kind ("u"/"d"), etag ("" = none), firstWrite ("1"/"0"), data, ttl ("" = keep).
    // Phase 1 checks every ETag; phase 2 writes. A failed check returns the index of the operation.
    private const string Script = """
        local n = #KEYS
        for i = 1, n do
          local base = (i - 1) * 5
          local etag = ARGV[base + 2]
          local first = ARGV[base + 3]
          local ver = redis.call('HGET', KEYS[i], 'version')
          if etag ~= '' then
            if ver ~= etag then return {'mismatch', i} end
          elseif first == '1' and ARGV[base + 1] == 'u' and ver then
            return {'mismatch', i}
          end
        end
        for i = 1, n do
          local base = (i - 1) * 5
          if ARGV[base + 1] == 'u' then
            redis.call('HSET', KEYS[i], 'data', ARGV[base + 4])
            redis.call('HINCRBY', KEYS[i], 'version', 1)
            local ttl = ARGV[base + 5]
            if ttl ~= '' then
              local t = tonumber(ttl)
              if t > 0 then redis.call('EXPIRE', KEYS[i], t) else redis.call('PERSIST', KEYS[i]) end
            end
          else
            redis.call('DEL', KEYS[i])
          end
        end
        return {'ok', 0}
        """;

    private IDatabase Db => redis.GetDatabase(database);

    public async Task<StateItem?> GetAsync(string key, CancellationToken ct)
    {
        var db = Db;
        var fields = await db.HashGetAllAsync(key);
        if (fields.Length == 0)
        {
            return null;
        }

        byte[]? data = null;
        string? version = null;
        foreach (var f in fields)
        {
            if (f.Name == "data")
            {
                data = f.Value;
            }
            else if (f.Name == "version")
            {
                version = f.Value;
            }
        }

        var ttl = await db.KeyTimeToLiveAsync(key);
        return new StateItem(data ?? [], version ?? "", ttl is { } t ? DateTimeOffset.UtcNow + t : null);
    }

    public async Task ApplyAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var keys = new RedisKey[operations.Count];
        var args = new RedisValue[operations.Count * 5];
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i];
            keys[i] = op.Key;
            var etag = op.ETag ?? "";
            if (op is Upsert)
            {
                // As contrib's parseETag: an upsert ignores its ETag only under an explicit last-write;
                // otherwise the ETag must be a version number and match.
                if (op.Concurrency == Concurrency.LastWrite)
                {
                    etag = "";
                }
                else if (etag.Length > 0 && !long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    throw new ETagInvalidException(op.Key);
                }
            }

            // A delete always checks its ETag, whatever the concurrency (contrib's Delete): one that is no
            // version number simply does not match.

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
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
