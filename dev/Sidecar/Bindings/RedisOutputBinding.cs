using System.Globalization;
using Platform.Sidecar.Resources;
using StackExchange.Redis;

namespace Platform.Sidecar.Bindings;

/// <summary>
/// <c>bindings.redis</c>, output only, as components-contrib <c>bindings/redis/redis.go</c>: every operation needs
/// the request metadata <c>key</c>. <c>create</c> is <c>SET key data</c> (the request's data bytes as they are),
/// then <c>EXPIRE</c> when <c>ttlInSeconds</c> (or <c>ttl</c>) is given; <c>get</c> is <c>GET</c> (<c>GETDEL</c>
/// with metadata <c>delete: "true"</c>) and answers the value, or no data when the key is missing;
/// <c>delete</c> is <c>DEL</c>; <c>increment</c> is <c>INCR</c>, then the same <c>EXPIRE</c>.
/// </summary>
internal sealed class RedisOutputBinding(ConnectionMultiplexer redis, int database) : IOutputBinding
{
    private readonly IDatabase _db = redis.GetDatabase(database);

    /// <summary>contrib's <c>Operations()</c>: create, delete, get, increment.</summary>
    public IReadOnlyList<string> Operations { get; } = ["create", "delete", "get", "increment"];

    public static async Task<RedisOutputBinding> CreateAsync(ComponentResource c, string appId)
    {
        var (redis, db) = await RedisConnections.ConnectAsync(c, $"{appId}-binding");
        return new RedisOutputBinding(redis, db);
    }

    public async Task<BindingResponse?> InvokeAsync(BindingRequest request, CancellationToken ct)
    {
        if (!request.Metadata.TryGetValue("key", out var key) || key.Length == 0)
        {
            throw new BindingException("redis binding: missing key in request metadata");
        }

        try
        {
            switch (request.Operation)
            {
                case "delete":
                    await _db.KeyDeleteAsync(key);
                    return null;
                case "get":
                    var value = string.Equals(Get(request.Metadata, "delete"), "true", StringComparison.Ordinal)
                        ? await _db.StringGetDeleteAsync(key)
                        : await _db.StringGetAsync(key);
                    // A missing key answers an empty response (contrib: "redis: nil" → &InvokeResponse{}).
                    return new BindingResponse(value.IsNull ? [] : (byte[])value!, new Dictionary<string, string>());
                case "create":
                {
                    // Checked before anything is written; contrib SETs first and fails on a bad TTL afterwards.
                    var ttl = Ttl(request.Metadata);
                    await _db.StringSetAsync(key, request.Data);
                    await ExpireAsync(key, ttl);
                    return null;
                }

                case "increment":
                {
                    var ttl = Ttl(request.Metadata);
                    await _db.StringIncrementAsync(key);
                    await ExpireAsync(key, ttl);
                    return null;
                }

                default:
                    throw new BindingException($"invalid operation type: {request.Operation}");
            }
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            // The server's reply (e.g. INCR of a non-number) or the connection's failure, as the component's error.
            throw new BindingException(e.Message);
        }
    }

    private Task ExpireAsync(string key, long? seconds) =>
        seconds is { } s ? _db.ExecuteAsync("EXPIRE", key, s) : Task.CompletedTask;

    /// <summary>
    /// contrib <c>metadata.TryGetTTL</c>: <c>ttl</c> or <c>ttlInSeconds</c>, a Go duration (<c>90s</c>) or whole
    /// seconds above zero; EXPIRE gets whole seconds (a negative duration is 0, which removes the key).
    /// </summary>
    private static long? Ttl(IReadOnlyDictionary<string, string> metadata)
    {
        var text = Get(metadata, "ttl") ?? Get(metadata, "ttlInSeconds");
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        // Go's time.ParseDuration first: "90s", "-5s" (negative is 0), and a bare "0"; a plain number has no unit there.
        var unsigned = text.TrimStart('-', '+');
        var duration = TimeSpan.Zero;
        if (text == "0" || (!double.TryParse(unsigned, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
            && GoDuration.TryParse(unsigned, TimeSpan.FromTicks(1), out duration)))
        {
            return text.StartsWith('-') || text == "0" ? 0 : (long)duration.TotalSeconds;
        }

        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            throw new BindingException($"ttl value must be a valid integer: actual is '{text}'");
        }

        return seconds > 0 ? seconds : throw new BindingException($"ttl value must be higher than zero: actual is '{seconds}'");
    }

    /// <summary>Request metadata by name, any case (dapr/kit <c>GetMetadataProperty</c>).</summary>
    private static string? Get(IReadOnlyDictionary<string, string> metadata, string name) =>
        metadata.TryGetValue(name, out var v) ? v : metadata.FirstOrDefault(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public async ValueTask DisposeAsync()
    {
        await redis.CloseAsync();
        redis.Dispose();
    }
}
