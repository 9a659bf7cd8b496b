namespace Platform.Sidecar.Configuration;

/// <summary>One configuration item (components-contrib <c>configuration.Item</c>).</summary>
public sealed record ConfigurationItem(string Value, string Version, IReadOnlyDictionary<string, string> Metadata)
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>What an update carries for a key that was deleted: an item with nothing in it (contrib's <c>{}</c>).</summary>
    public static ConfigurationItem Deleted { get; } = new("", "", NoMetadata);

    /// <summary>The Redis layout contrib reads (<c>configuration/redis/internal/redis_value.go</c>): <c>value||version</c>, the version optional.</summary>
    public static ConfigurationItem Parse(string stored)
    {
        var parts = stored.Split("||");
        return new ConfigurationItem(parts[0], parts.Length > 1 ? parts[1] : "", NoMetadata);
    }
}

/// <summary>An update a subscription receives (contrib <c>configuration.UpdateEvent</c>): the subscription's id and the changed items.</summary>
public sealed record ConfigurationUpdate(string Id, IReadOnlyDictionary<string, ConfigurationItem> Items);

/// <summary>The subscription id is unknown to the store (contrib's "subscription with id ... does not exist").</summary>
public sealed class SubscriptionNotFoundException(string id) : Exception($"subscription with id {id} does not exist");

/// <summary>A configuration store component (components-contrib <c>configuration.Store</c>).</summary>
public interface IConfigurationStore : IAsyncDisposable
{
    /// <summary>The items of <paramref name="keys"/> that exist with a value (every such item when none are given).</summary>
    Task<IReadOnlyDictionary<string, ConfigurationItem>> GetAsync(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, CancellationToken ct);

    /// <summary>
    /// Starts watching <paramref name="keys"/> (every key when none are given) and returns the subscription's id.
    /// Changes made after this returns reach <paramref name="handler"/>, one call at a time per key.
    /// </summary>
    Task<string> SubscribeAsync(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, Func<ConfigurationUpdate, Task> handler, CancellationToken ct);

    /// <summary>Stops a subscription; throws <see cref="SubscriptionNotFoundException"/> for an id it does not have.</summary>
    Task UnsubscribeAsync(string id, CancellationToken ct);
}
