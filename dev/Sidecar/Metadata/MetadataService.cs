using Platform.Sidecar.Invocation;
using Platform.Sidecar.PubSub;

// In the Api namespace, not Platform.Sidecar.Metadata: a namespace of that name would hide Grpc.Core.Metadata in
// every Platform.Sidecar.* file that uses it.
namespace Platform.Sidecar.Api;

/// <summary>
/// The metadata building block: what this sidecar reports about itself (daprd <c>pkg/api/universal/metadata.go</c>
/// builds one answer for both APIs, which render it as JSON or as <c>GetMetadataResponse</c>), and the
/// <c>extended</c> values apps set.
/// </summary>
public static class MetadataService
{
    public const string RuntimeVersion = "1.19.0-platform-dev";

    public const string Placement = "placement: consistent hashing over the sidecar name registry";

    public static SidecarMetadata Snapshot(SidecarRuntime rt) => new(
        rt.AppId,
        RuntimeVersion,
        [.. rt.Components.All.Select(c => new ComponentInfo(c.Name, c.Type, c.Version, Capabilities(c.Type)))],
        new Dictionary<string, string>(rt.Extended, StringComparer.Ordinal),
        rt.Subscriber.Subscriptions,
        new AppConnection(rt.App.Port ?? 0, rt.App.Protocol.Name(), rt.Options.AppChannelAddress, Math.Max(rt.App.MaxConcurrency, 0)),
        rt.Actors.ActiveCounts(),
        rt.Actors.HostedTypes.Count > 0);

    /// <summary>Sets one <c>extended</c> value (<c>PUT /v1.0/metadata/{key}</c>, gRPC <c>SetMetadata</c>).</summary>
    public static void Set(SidecarRuntime rt, string key, string value) => rt.Extended[key] = value;

    /// <summary>The features each component type reports (components-contrib's <c>Features()</c> of each type).</summary>
    public static string[] Capabilities(string type) => type switch
    {
        "state.in-memory" => ["ETAG", "TRANSACTIONAL", "TTL", "ACTOR"],
        "state.redis" => ["ETAG", "TRANSACTIONAL", "TTL", "ACTOR"],
        "pubsub.redis" or "pubsub.in-memory" => ["SUBSCRIBE_WILDCARDS"],
        "bindings.redis" => ["OUTPUT_BINDING"],
        "bindings.cron" => ["INPUT_BINDING"],
        _ => [],
    };
}

/// <summary>One answer of the metadata API, whichever API renders it.</summary>
public sealed record SidecarMetadata(
    string Id,
    string RuntimeVersion,
    IReadOnlyList<ComponentInfo> Components,
    IReadOnlyDictionary<string, string> Extended,
    IReadOnlyList<SubscriptionSpec> Subscriptions,
    AppConnection App,
    IReadOnlyList<(string Type, int Count)> ActiveActors,
    bool ActorHostReady);

/// <summary>A loaded component as the metadata API lists it.</summary>
public sealed record ComponentInfo(string Name, string Type, string Version, string[] Capabilities);

/// <summary>The app connection properties (<c>appConnectionProperties</c>).</summary>
public sealed record AppConnection(int Port, string Protocol, string ChannelAddress, int MaxConcurrency);
