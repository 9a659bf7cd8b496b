using Platform.Sidecar.Api;

namespace Platform.Sidecar.PubSub;

/// <summary>Publishing, shared by the HTTP and gRPC APIs: validation, topic scopes, the CloudEvent envelope.</summary>
public sealed class Publisher(Components components, string appId, Tracing tracing)
{
    public async Task PublishAsync(string pubsub, string topic, ReadOnlyMemory<byte> data, string? contentType,
        IReadOnlyDictionary<string, string> metadata, string? traceparent, string? tracestate, CancellationToken ct)
    {
        var (resource, broker) = components.PubSub(pubsub);
        if (string.IsNullOrEmpty(topic))
        {
            throw DaprError.TopicEmpty(pubsub);
        }

        if (!TopicScopes.MayPublish(resource, appId, topic))
        {
            throw new DaprError("ERR_PUBSUB_FORBIDDEN", $"topic {topic} is not allowed for app id {appId}", 403, Grpc.Core.StatusCode.PermissionDenied);
        }

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
}

/// <summary>
/// Topic scoping metadata daprd applies to every pub/sub component: <c>allowedTopics</c> (a comma list; empty = all),
/// <c>publishingScopes</c> and <c>subscriptionScopes</c> (<c>app1=t1,t2;app2=t3</c>: an app listed may only use its topics).
/// </summary>
internal static class TopicScopes
{
    public static bool MayPublish(Resources.ComponentResource c, string appId, string topic) =>
        Allowed(c, topic) && Scoped(c.Get("publishingScopes"), appId, topic);

    public static bool MaySubscribe(Resources.ComponentResource c, string appId, string topic) =>
        Allowed(c, topic) && Scoped(c.Get("subscriptionScopes"), appId, topic);

    private static bool Allowed(Resources.ComponentResource c, string topic) =>
        c.Get("allowedTopics") is not { } allowed || allowed.Split(',', StringSplitOptions.TrimEntries).Contains(topic, StringComparer.Ordinal);

    private static bool Scoped(string? scopes, string appId, string topic)
    {
        if (scopes is null)
        {
            return true;
        }

        foreach (var entry in scopes.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && entry[..eq].Trim() == appId)
            {
                return entry[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries).Contains(topic, StringComparer.Ordinal);
            }
        }

        return true;
    }
}
