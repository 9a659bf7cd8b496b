namespace Platform.Sidecar.Resources;

/// <summary>A loaded <c>kind: Component</c>, with secret references already resolved.</summary>
public sealed record ComponentResource(
    string Name,
    string Type,
    string Version,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<string> Scopes,
    string File)
{
    /// <summary><c>state</c>, <c>pubsub</c> or <c>secretstores</c>.</summary>
    public string Category => Type[..Type.IndexOf('.', StringComparison.Ordinal)];

    /// <summary><c>spec.ignoreErrors</c>: when the component cannot be initialised, log it and start without it.</summary>
    public bool IgnoreErrors { get; init; }

    internal string? Get(string name) => Metadata.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
}

/// <summary>A component with <c>spec.ignoreErrors: true</c> that could not be used, and why; the sidecar started without it.</summary>
public sealed record SkippedComponent(string Name, string File, string Reason);

/// <summary>A declarative <c>kind: Subscription</c> (v1alpha1 <c>route</c> or v2alpha1 <c>routes</c>).</summary>
public sealed record SubscriptionResource(
    string Name,
    string PubSubName,
    string Topic,
    IReadOnlyList<RouteRule> Rules,
    string? DeadLetterTopic,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<string> Scopes,
    string File,
    BulkSubscribeOptions? Bulk = null);

/// <summary>
/// A subscription's <c>bulkSubscribe</c> when enabled, with daprd's defaults filled in for values not above zero
/// (dapr/dapr <c>pkg/runtime/pubsub/default_bulksub.go</c>: 100 messages, 1000 ms; <c>utils.GetIntValOrDefault</c>).
/// </summary>
public sealed record BulkSubscribeOptions(int MaxMessagesCount, int MaxAwaitDurationMs)
{
    public const int DefaultMaxMessagesCount = 100;
    public const int DefaultMaxAwaitDurationMs = 1000;

    /// <summary>The options in effect, or null when bulk subscribe is not enabled.</summary>
    public static BulkSubscribeOptions? From(bool enabled, long? maxMessagesCount, long? maxAwaitDurationMs) => enabled
        ? new BulkSubscribeOptions(
            maxMessagesCount is > 0 and <= int.MaxValue ? (int)maxMessagesCount : DefaultMaxMessagesCount,
            maxAwaitDurationMs is > 0 and <= int.MaxValue ? (int)maxAwaitDurationMs : DefaultMaxAwaitDurationMs)
        : null;
}

/// <summary>One routing rule: a CEL-style <c>match</c> (empty means always) and the app path.</summary>
public sealed record RouteRule(string Match, string Path);

/// <summary>A retry policy from a Dapr Resiliency resource.</summary>
public sealed record RetryPolicy(string Name, bool Exponential, TimeSpan Duration, TimeSpan MaxInterval, int MaxRetries)
{
    /// <summary>The wait before retry number <paramref name="attempt"/> (1-based).</summary>
    public TimeSpan Delay(int attempt)
    {
        if (!Exponential)
        {
            return Duration;
        }

        var ms = Math.Min(MaxInterval.TotalMilliseconds, Duration.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(ms);
    }
}

/// <summary>A circuit breaker from a Resiliency resource; only <c>trip: consecutiveFailures &gt;= N</c> (or &gt; N) is supported.</summary>
public sealed record BreakerPolicy(string Name, int MaxRequests, TimeSpan Interval, TimeSpan Timeout, int TripAfter);

/// <summary>The policies for calls to one app-id (Resiliency <c>spec.targets.apps</c>).</summary>
public sealed record TargetPolicy(TimeSpan? Timeout, RetryPolicy? Retry, BreakerPolicy? Breaker);

/// <summary>Everything the sidecar read from its resources paths.</summary>
public sealed record LoadedResources(
    IReadOnlyList<ComponentResource> Components,
    IReadOnlyList<SubscriptionResource> Subscriptions,
    IReadOnlyDictionary<string, RetryPolicy> InboundComponentRetries,
    IReadOnlyDictionary<string, TargetPolicy>? AppTargets = null,
    IReadOnlyDictionary<string, TargetPolicy>? ActorTargets = null)
{
    /// <summary>Resiliency policies for invocations of each target app-id.</summary>
    public IReadOnlyDictionary<string, TargetPolicy> Apps => AppTargets ?? new Dictionary<string, TargetPolicy>();

    /// <summary>Components with <c>spec.ignoreErrors: true</c> left out because they could not be read or resolved.</summary>
    public IReadOnlyList<SkippedComponent> Skipped { get; init; } = [];

    /// <summary>Resiliency policies for calls to each actor type (<c>spec.targets.actors</c>).</summary>
    public IReadOnlyDictionary<string, TargetPolicy> Actors => ActorTargets ?? new Dictionary<string, TargetPolicy>();
}
