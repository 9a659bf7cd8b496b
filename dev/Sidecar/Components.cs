using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Bindings;
using Platform.Sidecar.Configuration;
using Platform.Sidecar.Locks;
using Platform.Sidecar.PubSub;
using Platform.Sidecar.Resources;
using Platform.Sidecar.Secrets;
using Platform.Sidecar.State;

namespace Platform.Sidecar;

/// <summary>The components this sidecar loaded and initialised, by name.</summary>
public sealed class Components : IAsyncDisposable
{
    private readonly Dictionary<string, (ComponentResource Resource, IStateStore Store)> _state = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, IBroker Broker)> _pubsub = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, ISecretStore Store)> _secrets = new(StringComparer.Ordinal);

    private readonly Dictionary<string, (ComponentResource Resource, IOutputBinding Binding)> _outputBindings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, IInputBinding Binding)> _inputBindings = new(StringComparer.Ordinal);
    private readonly List<ComponentResource> _loaded = [];
    private readonly Dictionary<string, (ComponentResource Resource, ILockStore Store)> _locks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ComponentResource Resource, IConfigurationStore Store)> _configuration = new(StringComparer.Ordinal);

    private Components(LoadedResources resources) => Resources = resources;

    public LoadedResources Resources { get; }

    /// <summary>The components in use: those loaded, less any with <c>spec.ignoreErrors</c> whose init failed.</summary>
    public IEnumerable<ComponentResource> All => _loaded;

    public IReadOnlyCollection<string> StateStoreNames => _state.Keys;

    /// <summary>The lock stores by name (the lock API validates in daprd's order, so it looks them up itself).</summary>
    public IReadOnlyDictionary<string, (ComponentResource Resource, ILockStore Store)> LockStores => _locks;

    /// <summary>The configuration stores by name.</summary>
    public IReadOnlyDictionary<string, (ComponentResource Resource, IConfigurationStore Store)> ConfigurationStores => _configuration;

    public static async Task<Components> InitAsync(LoadedResources resources, string appId, string scope, ILogger logger, TimeProvider time)
    {
        var components = new Components(resources);
        foreach (var skipped in resources.Skipped)
        {
            LogSkipped(logger, skipped.Name, skipped.File, skipped.Reason);
        }

        try
        {
            foreach (var c in resources.Components)
            {
                try
                {
                    await components.InitOneAsync(c, appId, scope, logger, time);
                    components._loaded.Add(c);
                }
                catch (Exception e) when (c.IgnoreErrors && e is not OperationCanceledException)
                {
                    // daprd: "Ignoring error processing component" (pkg/runtime/components.go initComponentBlocking).
                    LogSkipped(logger, c.Name, c.File, e.Message);
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

    private static void LogSkipped(ILogger logger, string name, string file, string reason) =>
        logger.LogWarning("Ignoring error processing component {Component} ({File}), spec.ignoreErrors is true; starting without it: {Reason}", name, file, reason);

    private async Task InitOneAsync(ComponentResource c, string appId, string scope, ILogger logger, TimeProvider time)
    {
        switch (c.Type)
        {
            case "state.in-memory":
                _state[c.Name] = (c, new InMemoryStateStore(time));
                break;
            case "state.redis":
                var (redis, db) = await RedisConnections.ConnectAsync(c, $"{appId}-state");
                _state[c.Name] = (c, new RedisStateStore(redis, db));
                break;
            case "pubsub.in-memory":
                _pubsub[c.Name] = (c, InMemoryBroker.ForName(scope, c.Name, logger));
                break;
            case "pubsub.redis":
                _pubsub[c.Name] = (c, await RedisStreamsBroker.CreateAsync(c, appId, logger));
                break;
            case "secretstores.local.file" or "secretstores.local.env":
                _secrets[c.Name] = (c, SecretStores.Open(c));
                break;
            case "bindings.redis" when BindingMetadata.IsOfDirection(c, "output"):
                _outputBindings[c.Name] = (c, await RedisOutputBinding.CreateAsync(c, appId));
                break;
            case "bindings.cron" when BindingMetadata.IsOfDirection(c, "input"):
                _inputBindings[c.Name] = (c, CronInputBinding.Create(c, logger, time));
                break;
            case "lock.in-memory":
                LockService.KeyPrefix(c);
                _locks[c.Name] = (c, InMemoryLockStore.ForName(scope, c.Name, time));
                break;
            case "lock.redis":
                LockService.KeyPrefix(c);
                if (c.Get("redisType") == "cluster")
                {
                    // contrib's lock/redis: "this component does not support connecting to Redis Cluster".
                    throw new ResourceException(c.File, "spec.metadata[redisType]", "lock.redis does not support connecting to Redis Cluster");
                }

                var (lockRedis, lockDb) = await RedisConnections.ConnectAsync(c, $"{appId}-lock");
                _locks[c.Name] = (c, new RedisLockStore(lockRedis, lockDb));
                break;
            case "configuration.redis":
                // contrib sets notify-keyspace-events with CONFIG SET, an admin command for StackExchange.Redis.
                var (configRedis, configDb) = await RedisConnections.ConnectAsync(c, $"{appId}-configuration", configure: o => o.AllowAdmin = true);
                _configuration[c.Name] = (c, new RedisConfigurationStore(configRedis, configDb, logger));
                break;
            case "configuration.local.file":
                _configuration[c.Name] = (c, LocalFileConfigurationStore.Open(c, logger));
                break;
        }
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

    /// <summary>A secret store by name (dapr/dapr universal <c>secretsValidateRequest</c>).</summary>
    public ISecretStore SecretStore(string name) =>
        _secrets.Count == 0 ? throw DaprError.SecretStoresNotConfigured()
        : _secrets.TryGetValue(name, out var s) ? s.Store : throw DaprError.SecretStoreNotFound(name);

    /// <summary>An output binding by name.</summary>
    public bool TryGetOutputBinding(string name, out IOutputBinding binding)
    {
        var found = _outputBindings.TryGetValue(name, out var b);
        binding = b.Binding;
        return found;
    }

    /// <summary>The input bindings, with their components.</summary>
    public IEnumerable<(ComponentResource Resource, IInputBinding Binding)> InputBindings => _inputBindings.Values;

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, binding) in _inputBindings.Values)
        {
            await binding.DisposeAsync();
        }

        foreach (var (_, binding) in _outputBindings.Values)
        {
            await binding.DisposeAsync();
        }

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
