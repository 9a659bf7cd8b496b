using Platform.Sidecar.Api;

namespace Platform.Sidecar.PubSub;

/// <summary>Publishing, shared by the HTTP and gRPC APIs: validation, topic scopes, the CloudEvent envelope.</summary>
public sealed class Publisher(Components components, string appId, Tracing tracing)
{
    public async Task PublishAsync(string pubsub, string topic, ReadOnlyMemory<byte> data, string? contentType,
        IReadOnlyDictionary<string, string> metadata, string? traceparent, string? tracestate, CancellationToken ct)
    {
        var broker = Authorize(pubsub, topic);
        var raw = metadata.TryGetValue("rawPayload", out var r) && string.Equals(r, "true", StringComparison.OrdinalIgnoreCase);
        using var hop = tracing.Start($"pubsub/{topic}", System.Diagnostics.ActivityKind.Producer, traceparent, tracestate);
        var payload = raw ? data : CloudEvents.Wrap(appId, pubsub, topic, data, contentType, metadata, hop.Traceparent, hop.Tracestate);
        try
        {
            await broker.PublishAsync(topic, payload, metadata, ct);
        }
        catch (Exception e) when (e is not DaprError and not OperationCanceledException)
        {
            throw new DaprError("ERR_PUBSUB_PUBLISH_MESSAGE", $"error when publish to topic {topic} in pubsub {pubsub}: {e.Message}", 500, Grpc.Core.StatusCode.Internal);
        }
    }

    /// <summary>
    /// Bulk publish, the one operation behind HTTP <c>/publish/bulk</c> and gRPC <c>BulkPublishEvent[Alpha1]</c>
    /// (daprd <c>pkg/api/grpc/grpc.go</c> <c>bulkPublishEvent</c>): every entry id is checked before any entry is
    /// published (empty or repeated: <c>ERR_PUBSUB_EVENTS_SER</c>, nothing published); then each entry is published
    /// with the request metadata under its own, and the entries that failed are returned with their errors.
    /// </summary>
    public async Task<IReadOnlyList<(string EntryId, string Error)>> BulkPublishAsync(string pubsub, string topic, IReadOnlyList<BulkPublishEntry> entries,
        IReadOnlyDictionary<string, string> metadata, string? traceparent, string? tracestate, CancellationToken ct)
    {
        Authorize(pubsub, topic);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        if (entries.FirstOrDefault(e => e.EntryId.Length == 0 || !ids.Add(e.EntryId)) is not null)
        {
            throw DaprError.EventsSer(pubsub, topic, "entryId is duplicated or not present for entry");
        }

        var failed = new List<(string, string)>();
        foreach (var entry in entries)
        {
            var merged = new Dictionary<string, string>(metadata, StringComparer.Ordinal);
            foreach (var (k, v) in entry.Metadata)
            {
                merged[k] = v;
            }

            try
            {
                await PublishAsync(pubsub, topic, entry.Event, entry.ContentType, merged, traceparent, tracestate, ct);
            }
            catch (DaprError e) when (e.ErrorCode == "ERR_PUBSUB_PUBLISH_MESSAGE")
            {
                failed.Add((entry.EntryId, e.Message));
            }
        }

        return failed;
    }

    /// <summary>The pub/sub's broker, once the topic is named and this app may publish on it.</summary>
    private IBroker Authorize(string pubsub, string topic)
    {
        var (resource, broker) = components.PubSub(pubsub);
        if (string.IsNullOrEmpty(topic))
        {
            throw DaprError.TopicEmpty(pubsub);
        }

        return TopicScopes.MayPublish(resource, appId, topic) ? broker : throw TopicScopes.Forbidden(topic, appId);
    }
}

/// <summary>One entry of a bulk publish, as either API carries it.</summary>
public sealed record BulkPublishEntry(string EntryId, ReadOnlyMemory<byte> Event, string ContentType, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Topic scoping metadata daprd applies to every pub/sub component (dapr/dapr <c>pkg/scopes/scopes.go</c> reads it,
/// <c>pkg/runtime/pubsub/adapter.go</c> <c>IsOperationAllowed</c> decides): <c>allowedTopics</c> (a comma list; empty
/// = all), <c>protectedTopics</c> (a comma list of topics only a scoped app may use), and <c>publishingScopes</c> /
/// <c>subscriptionScopes</c> (<c>app1=t1,t2;app2=t3</c>: an app listed may only use its topics; <c>app3=</c> none).
/// The same check guards publishing (HTTP, gRPC, bulk), subscribing, and the sidecar's own dead-letter publishes.
/// </summary>
internal static class TopicScopes
{
    public static bool MayPublish(Resources.ComponentResource c, string appId, string topic) =>
        IsAllowed(c, topic, ScopedTopics(c, "publishingScopes", appId));

    public static bool MaySubscribe(Resources.ComponentResource c, string appId, string topic) =>
        IsAllowed(c, topic, ScopedTopics(c, "subscriptionScopes", appId));

    public static DaprError Forbidden(string topic, string appId) =>
        new("ERR_PUBSUB_FORBIDDEN", $"topic {topic} is not allowed for app id {appId}", 403, Grpc.Core.StatusCode.PermissionDenied);

    private static bool IsAllowed(Resources.ComponentResource c, string topic, List<string> scoped)
    {
        var allowed = Topics(c, "allowedTopics");
        if (allowed.Count > 0 && !allowed.Contains(topic))
        {
            return false;
        }

        // An unprotected topic is open to an app no scope names; a protected one needs the app's own grant.
        if (scoped.Count == 0 && !Topics(c, "protectedTopics").Contains(topic))
        {
            return true;
        }

        return scoped.Contains(topic);
    }

    // daprd matches metadata names case-insensitively and deletes every space from the value before splitting.
    private static string? Value(Resources.ComponentResource c, string name) =>
        c.Metadata.FirstOrDefault(m => m.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value is { Length: > 0 } v ? v.Replace(" ", "", StringComparison.Ordinal) : null;

    private static List<string> Topics(Resources.ComponentResource c, string name) =>
        Value(c, name) is { } v ? [.. v.Split(',').Distinct(StringComparer.Ordinal)] : [];

    /// <summary>The topics every entry for <paramref name="appId"/> grants (entries for one app add up; none: an empty list).</summary>
    private static List<string> ScopedTopics(Resources.ComponentResource c, string name, string appId)
    {
        var topics = new List<string>();
        foreach (var entry in (Value(c, name) ?? "").Split(';'))
        {
            var parts = entry.Split('=');
            if (parts.Length >= 2 && parts[0] == appId)
            {
                topics.AddRange(parts[1].Split(',').Where(t => !topics.Contains(t, StringComparer.Ordinal)));
            }
        }

        return topics;
    }
}
