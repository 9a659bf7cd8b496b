using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Configuration;
using Platform.Sidecar.Locks;
using Platform.Sidecar.PubSub;
using Platform.Sidecar.Resources;
using Platform.Sidecar.State;

namespace Platform.Sidecar;

/// <summary>The components this sidecar loaded and initialised, by name.</summary>
public sealed class Components : IAsyncDisposable
{
    private readonly Dictionary<string, (ComponentResource Resource, IStateStore Store)> _state = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, IBroker Broker)> _pubsub = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, LocalFileSecretStore Store)> _secrets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, ILockStore Store)> _locks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, IConfigurationStore Store)> _configuration = new(StringComparer.Ordinal);

    private Components(LoadedResources resources) => Resources = resources;

    public LoadedResources Resources { get; }

    public IEnumerable<ComponentResource> All => Resources.Components;

    public IReadOnlyCollection<string> StateStoreNames => _state.Keys;

    /// <summary>The lock stores by name (the lock API validates in daprd's order, so it looks them up itself).</summary>
    public IReadOnlyDictionary<string, (ComponentResource Resource, ILockStore Store)> LockStores => _locks;

    /// <summary>The configuration stores by name.</summary>
    public IReadOnlyDictionary<string, (ComponentResource Resource, IConfigurationStore Store)> ConfigurationStores => _configuration;

    public static async Task<Components> InitAsync(LoadedResources resources, string appId, string scope, ILogger logger, TimeProvider time)
    {
        var components = new Components(resources);
        try
        {
            foreach (var c in resources.Components)
            {
                switch (c.Type)
                {
                    case "state.in-memory":
                        components._state[c.Name] = (c, new InMemoryStateStore(time));
                        break;
                    case "state.redis":
                        var (redis, db) = await RedisConnections.ConnectAsync(c, $"{appId}-state");
                        components._state[c.Name] = (c, new RedisStateStore(redis, db));
                        break;
                    case "pubsub.in-memory":
                        components._pubsub[c.Name] = (c, InMemoryBroker.ForName(scope, c.Name, logger));
                        break;
                    case "pubsub.redis":
                        components._pubsub[c.Name] = (c, await RedisStreamsBroker.CreateAsync(c, appId, logger));
                        break;
                    case "secretstores.local.file":
                        components._secrets[c.Name] = (c, LocalFileSecretStore.Open(c));
                        break;
                    case "lock.in-memory":
                        LockService.KeyPrefix(c);
                        components._locks[c.Name] = (c, InMemoryLockStore.ForName(scope, c.Name, time));
                        break;
                    case "lock.redis":
                        LockService.KeyPrefix(c);
                        if (c.Get("redisType") == "cluster")
                        {
                            // contrib's lock/redis: "this component does not support connecting to Redis Cluster".
                            throw new ResourceException(c.File, "spec.metadata[redisType]", "lock.redis does not support connecting to Redis Cluster");
                        }

                        var (lockRedis, lockDb) = await RedisConnections.ConnectAsync(c, $"{appId}-lock");
                        components._locks[c.Name] = (c, new RedisLockStore(lockRedis, lockDb));
                        break;
                    case "configuration.redis":
                        // contrib sets notify-keyspace-events with CONFIG SET, an admin command for StackExchange.Redis.
                        var (configRedis, configDb) = await RedisConnections.ConnectAsync(c, $"{appId}-configuration", configure: o => o.AllowAdmin = true);
                        components._configuration[c.Name] = (c, new RedisConfigurationStore(configRedis, configDb, logger));
                        break;
                    case "configuration.local.file":
                        components._configuration[c.Name] = (c, LocalFileConfigurationStore.Open(c, logger));
                        break;
                }
            }
        }
        catch
        {
            await components.DisposeAsync();
            throw;
        }

        return components;
    }

    public (ComponentResource Resource, IStateStore Store) StateStore(string name)
    {
        if (_state.Count == 0)
        {
            throw DaprError.StateStoreNotConfigured();
        }

        return _state.TryGetValue(name, out var s) ? s : throw DaprError.StateStoreNotFound(name);
    }

    public (ComponentResource Resource, IBroker Broker) PubSub(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw DaprError.PubSubEmpty();
        }

        if (_pubsub.Count == 0)
        {
            throw DaprError.PubSubNotConfigured();
        }

        return _pubsub.TryGetValue(name, out var p) ? p : throw DaprError.PubSubNotFound(name);
    }

    public bool TryGetPubSub(string name, out (ComponentResource Resource, IBroker Broker) pubsub) => _pubsub.TryGetValue(name, out pubsub);

    public LocalFileSecretStore SecretStore(string name) =>
        _secrets.TryGetValue(name, out var s) ? s.Store : throw DaprError.SecretStoreNotFound(name);

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, store) in _state.Values)
        {
            await store.DisposeAsync();
        }

        foreach (var (c, broker) in _pubsub.Values.Where(p => p.Resource.Type != "pubsub.in-memory"))
        {
            await broker.DisposeAsync();
        }

        foreach (var (_, store) in _locks.Values)
        {
            await store.DisposeAsync();
        }

        foreach (var (_, store) in _configuration.Values)
        {
            await store.DisposeAsync();
        }
    }
}
