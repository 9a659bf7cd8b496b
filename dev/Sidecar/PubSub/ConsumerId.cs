namespace Platform.Sidecar.PubSub;

/// <summary>
/// The consumer group a subscription joins: the component's <c>consumerID</c> metadata with daprd's template tags
/// resolved once per sidecar start (docs.dapr.io, "Component spec" → "Templated metadata values"), else the app-id.
/// <c>{uuid}</c> gives every sidecar its own group, so every replica receives every message (a broadcast);
/// <c>{podName}</c> does the same with a name that survives a restart (a StatefulSet's pods).
/// </summary>
public sealed class ConsumerId(string appId, string podName, string @namespace)
{
    private readonly string _uuid = Guid.NewGuid().ToString();

    /// <summary>The group for a component's <c>consumerID</c> value (none: the app-id).</summary>
    public string Resolve(string? template) => template is null
        ? appId
        : template
            .Replace("{uuid}", _uuid, StringComparison.Ordinal)
            .Replace("{podName}", podName, StringComparison.Ordinal)
            // daprd: "namespace where the Dapr sidecar resides combined with its appId".
            .Replace("{namespace}", $"{@namespace}.{appId}", StringComparison.Ordinal)
            .Replace("{appID}", appId, StringComparison.Ordinal);

    /// <summary>True when the group belongs to this sidecar start alone: nobody will read it after this sidecar stops.</summary>
    public static bool IsPerStart(string? template) => template?.Contains("{uuid}", StringComparison.Ordinal) == true;
}
