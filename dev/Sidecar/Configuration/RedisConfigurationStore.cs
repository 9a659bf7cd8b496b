using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Platform.Sidecar.Configuration;

/// <summary>
/// <c>configuration.redis</c> as components-contrib lays it out (<c>configuration/redis/redis.go</c>): each key is a
/// Redis string <c>value||version</c> (the version optional); keys missing, of another type or with an empty value
/// are left out; a get without keys reads every key (<c>KEYS *</c>). A subscription first sets
/// <c>notify-keyspace-events</c> to <c>Kg$xe</c> (contrib does, on every subscribe) and listens on
/// <c>__keyspace@{db}__:{key}</c> (the pattern <c>__keyspace@{db}__:*</c> for all keys); each notification reads the
/// key again and passes it on, a key gone as an empty item.
/// </summary>
public sealed class RedisConfigurationStore(ConnectionMultiplexer redis, int database, ILogger logger) : IConfigurationStore
{
    private readonly ConcurrentDictionary<string, List<ChannelMessageQueue>> _subscriptions = new(StringComparer.Ordinal);

    private IDatabase Db => redis.GetDatabase(database);

    private string ChannelPrefix => $"__keyspace@{database}__:";

    public async Task<IReadOnlyDictionary<string, ConfigurationItem>> GetAsync(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        IEnumerable<string> names = keys;
        if (keys.Count == 0)
        {
            var all = await Db.ExecuteAsync("KEYS", "*");
            names = ((RedisResult[])all!).Select(k => (string)k!);
        }

        var items = new Dictionary<string, ConfigurationItem>(StringComparer.Ordinal);
        foreach (var key in names)
        {
            RedisValue stored;
            try
            {
                stored = await Db.StringGetAsync(key);
            }
            catch (RedisServerException e) when (e.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal))
            {
                continue; // contrib: "type is not supported, ignore it"
            }

            if (stored.IsNull)
            {
                continue;
            }

            var item = ConfigurationItem.Parse(stored!);
            if (item.Value.Length > 0)
            {
                items[key] = item;
            }
        }

        return items;
    }

    public async Task<string> SubscribeAsync(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, Func<ConfigurationUpdate, Task> handler, CancellationToken ct)
    {
        try
        {
            await Db.ExecuteAsync("CONFIG", "SET", "notify-keyspace-events", "Kg$xe");
        }
        catch (RedisException e)
        {
            // contrib ignores this error too; notifications then come only if the server already sends them.
            logger.LogWarning("configuration.redis: CONFIG SET notify-keyspace-events failed: {Error}", e.Message);
        }

        var id = Guid.NewGuid().ToString();
        var channels = keys.Count == 0
            ? [RedisChannel.Pattern(ChannelPrefix + "*")]
            : keys.Distinct(StringComparer.Ordinal).Select(k => RedisChannel.Literal(ChannelPrefix + k)).ToList();
        var queues = new List<ChannelMessageQueue>();
        var subscriber = redis.GetSubscriber();
        try
        {
            foreach (var channel in channels)
            {
                var queue = await subscriber.SubscribeAsync(channel);
                queue.OnMessage(message => OnChangeAsync(id, (string)message.Channel!, handler));
                queues.Add(queue);
            }
        }
        catch
        {
            foreach (var queue in queues)
            {
                await queue.UnsubscribeAsync();
            }

            throw;
        }

        _subscriptions[id] = queues;
        return id;
    }

    private async Task OnChangeAsync(string id, string channel, Func<ConfigurationUpdate, Task> handler)
    {
        if (!channel.StartsWith(ChannelPrefix, StringComparison.Ordinal))
        {
            return;
        }

        var key = channel[ChannelPrefix.Length..];
        try
        {
            var items = await GetAsync([key], new Dictionary<string, string>(), CancellationToken.None);
            await handler(new ConfigurationUpdate(id, items.Count > 0 ? items : new Dictionary<string, ConfigurationItem> { [key] = ConfigurationItem.Deleted }));
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "configuration.redis: the update of key {Key} for subscription {Id} was not delivered", key, id);
        }
    }

    public async Task UnsubscribeAsync(string id, CancellationToken ct)
    {
        if (!_subscriptions.TryRemove(id, out var queues))
        {
            throw new SubscriptionNotFoundException(id);
        }

        foreach (var queue in queues)
        {
            await queue.UnsubscribeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _subscriptions.Keys.ToList())
        {
            try
            {
                await UnsubscribeAsync(id, CancellationToken.None);
            }
            catch (Exception e) when (e is SubscriptionNotFoundException or RedisException)
            {
            }
        }

        await redis.CloseAsync();
        redis.Dispose();
    }
}
