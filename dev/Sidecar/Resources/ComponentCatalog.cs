namespace Platform.Sidecar.Resources;

/// <summary>The component types this sidecar implements, and the metadata names each accepts.</summary>
/// <remarks>
/// The names come from Dapr's own component metadata files (components-contrib
/// <c>state/redis/metadata.yaml</c>, <c>pubsub/redis/metadata.yaml</c>, <c>secretstores/local/file/metadata.yaml</c>, <c>secretstores/local/env/metadata.yaml</c>,
/// <c>bindings/redis/metadata.yaml</c>, <c>bindings/cron/metadata.yaml</c>),
/// plus the names daprd itself reads for every component of a kind (<c>keyPrefix</c>, <c>actorStateStore</c>
/// for state; <c>consumerID</c> and the topic scoping names for pub/sub). Accepting exactly these means a
/// component file that works here also loads in the real runtime, and a typo stops start-up instead of
/// being silently ignored.
/// </remarks>
internal static class ComponentCatalog
{
    private static readonly string[] RedisConnection =
    [
        "redisHost", "redisPort", "redisPassword", "redisUsername", "sentinelUsername", "sentinelPassword",
        "enableTLS", "insecureSkipTLSVerify", "clientCert", "clientKey", "failover", "sentinelMasterName",
        "redisType", "redisDB", "redisMaxRetries", "redisMinRetryInterval", "redisMaxRetryInterval",
        "dialTimeout", "readTimeout", "writeTimeout", "poolSize", "poolTimeout", "maxConnAge", "minIdleConns",
        "idleCheckFrequency", "idleTimeout", "useEntraID",
    ];

    private static readonly string[] StateCommon = ["keyPrefix", "actorStateStore", "outboxPublishPubsub", "outboxPublishTopic", "outboxPubsub", "outboxDiscardWhenMissingState"];

    // bindings/redis/metadata.yaml also lists the OIDC authentication profile (accepted; this sidecar does not use it).
    private static readonly string[] RedisOidc =
    [
        "useOIDC", "oidcTokenEndpoint", "oidcClientID", "oidcClientAssertionCert", "oidcClientAssertionKey", "oidcResource",
        "oidcAudience", "oidcScopes", "oidcKid", "oidcCACert",
    ];

    // Read by daprd itself for every binding (dapr/dapr pkg/runtime/processor/binding/binding.go): direction, and route for input.
    private static readonly string[] BindingCommon = ["direction", "route"];

    private static readonly string[] PubSubCommon = ["consumerID", "allowedTopics", "protectedTopics", "publishingScopes", "subscriptionScopes"];

    public static readonly IReadOnlyDictionary<string, ComponentKind> Known = new Dictionary<string, ComponentKind>(StringComparer.Ordinal)
    {
        ["state.in-memory"] = new("state", [], [.. StateCommon]),
        ["state.redis"] = new("state", ["redisHost"],
            [.. RedisConnection, .. StateCommon, "redeliverInterval", "processingTimeout", "ttlInSeconds", "queryIndexes"]),
        ["pubsub.in-memory"] = new("pubsub", [], [.. PubSubCommon]),
        ["pubsub.redis"] = new("pubsub", ["redisHost"],
            [.. RedisConnection, .. PubSubCommon, "redeliverInterval", "processingTimeout", "queueDepth", "concurrency", "maxLenApprox", "streamTTL"]),
        // components-contrib lock/redis/metadata.yaml, plus daprd's keyPrefix (pkg/components/lock/lock_config.go).
        // lock.in-memory is this sidecar's own type (contrib has no in-memory lock store).
        ["lock.redis"] = new("lock", ["redisHost"], [.. RedisConnection, "keyPrefix", "maxRetries", "maxRetryBackoff", "redeliverInterval", "processingTimeout"]),
        ["lock.in-memory"] = new("lock", [], ["keyPrefix"]),
        // components-contrib configuration/redis/metadata.yaml; configuration.local.file is this sidecar's own type.
        ["configuration.redis"] = new("configuration", ["redisHost"], [.. RedisConnection]),
        ["configuration.local.file"] = new("configuration", ["configFile"], ["configFile", "pollInterval"]),
        ["secretstores.local.file"] = new("secretstores", ["secretsFile"], ["secretsFile", "nestedSeparator", "multiValued"]),
        ["secretstores.local.env"] = new("secretstores", [], ["prefix"]),
        ["bindings.redis"] = new("bindings", ["redisHost"], [.. RedisConnection, .. RedisOidc, .. BindingCommon]),
        ["bindings.cron"] = new("bindings", ["schedule"], ["schedule", .. BindingCommon]),
    };

    /// <summary>Types users put in component folders that only the real Dapr runtime can run.</summary>
    public static bool NeedsDaprRuntime(string type) =>
        type.StartsWith("pubsub.", StringComparison.Ordinal) || type.StartsWith("state.", StringComparison.Ordinal)
        || type.StartsWith("bindings.", StringComparison.Ordinal) || type.StartsWith("secretstores.", StringComparison.Ordinal)
        || type.StartsWith("configuration.", StringComparison.Ordinal) || type.StartsWith("lock.", StringComparison.Ordinal)
        || type.StartsWith("middleware.", StringComparison.Ordinal) || type.StartsWith("crypto.", StringComparison.Ordinal)
        || type.StartsWith("nameresolution.", StringComparison.Ordinal) || type.StartsWith("conversation.", StringComparison.Ordinal);
}

internal sealed record ComponentKind(string Category, string[] Required, string[] Allowed);
