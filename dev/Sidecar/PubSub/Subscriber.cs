using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.Resources;
using Outcome = Platform.Sidecar.Invocation.DeliveryOutcome;

namespace Platform.Sidecar.PubSub;

/// <summary>A subscription in effect: from the app's <c>GET /dapr/subscribe</c> or from a Subscription resource.</summary>
public sealed record SubscriptionSpec(
    string PubSubName,
    string Topic,
    IReadOnlyList<RouteRule> Rules,
    string? DeadLetterTopic,
    IReadOnlyDictionary<string, string> Metadata,
    string Origin,
    BulkSubscribeOptions? Bulk = null);

/// <summary>
/// Delivers events to the app as daprd does (dapr <c>pkg/runtime/subscription</c>): routes each event, hands it to
/// the app channel (<see cref="IAppChannel.DeliverEventAsync"/>: HTTP POST or gRPC <c>OnTopicEvent</c>), and acts
/// on the outcome — SUCCESS: done; RETRY (or an unknown status, an HTTP error status, a gRPC error, the app
/// unreachable): retry per the Resiliency inbound policy of the component, then dead-letter if a topic is set,
/// else leave it with the broker for redelivery; DROP (or HTTP 404): dead-letter if set, else drop.
/// </summary>
public sealed partial class Subscriber(Components components, IAppChannel app, string appId, ConsumerId consumerId, ILogger logger, Tracing tracing) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _active = [];
    private readonly List<SubscriptionSpec> _specs = [];

    public IReadOnlyList<SubscriptionSpec> Subscriptions => _specs;

    /// <summary>Asks the app which topics it subscribes to (over its protocol); failures are logged and mean none, as in daprd.</summary>
    public Task<List<SubscriptionSpec>> DiscoverAsync(CancellationToken ct) => app.ListSubscriptionsAsync(ct);

    internal static List<SubscriptionSpec> ParseDiscovery(ReadOnlySpan<byte> body)
    {
        var result = new List<SubscriptionSpec>();
        using var doc = JsonDocument.Parse(body.ToArray());
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            string? Get(string name) => item.EnumerateObject().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;
            JsonElement? Obj(JsonElement e, string name) => e.EnumerateObject().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.Object } v ? v : null;

            var pubsub = Get("pubsubname") ?? "";
            var topic = Get("topic") ?? "";
            var rules = new List<RouteRule>();
            if (Obj(item, "routes") is { } routes)
            {
                if (routes.TryGetProperty("rules", out var rs) && rs.ValueKind == JsonValueKind.Array)
                {
                    foreach (var r in rs.EnumerateArray())
                    {
                        var match = r.TryGetProperty("match", out var m) ? m.GetString() ?? "" : "";
                        RouteMatch.Compile(match);
                        rules.Add(new RouteRule(match, r.GetProperty("path").GetString() ?? ""));
                    }
                }

                if (routes.TryGetProperty("default", out var d) && d.GetString() is { Length: > 0 } def)
                {
                    rules.Add(new RouteRule("", def));
                }
            }
            else if (Get("route") is { Length: > 0 } route)
            {
                rules.Add(new RouteRule("", route));
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Obj(item, "metadata") is { } meta)
            {
                foreach (var p in meta.EnumerateObject())
                {
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
                }
            }

            // "bulkSubscribe": {"enabled", "maxMessagesCount", "maxAwaitDurationMs"} (dapr/dapr pkg/runtime/pubsub/subscriptions.go BulkSubscribeJSON).
            BulkSubscribeOptions? bulk = null;
            if (Obj(item, "bulkSubscribe") is { } b)
            {
                long? Number(string name) => b.EnumerateObject().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.Number } n
                    ? n.GetInt64()
                    : null;
                var enabled = b.EnumerateObject().FirstOrDefault(p => p.Name.Equals("enabled", StringComparison.OrdinalIgnoreCase)).Value.ValueKind == JsonValueKind.True;
                bulk = BulkSubscribeOptions.From(enabled, Number("maxMessagesCount"), Number("maxAwaitDurationMs"));
            }

            // daprd drops subscriptions that end up without a route (filterSubscriptions).
            if (rules.Count > 0 && topic.Length > 0)
            {
                result.Add(new SubscriptionSpec(pubsub, topic, rules, Get("deadLetterTopic"), metadata, "app", bulk));
            }
        }

        return result;
    }

    public async Task StartAsync(IEnumerable<SubscriptionSpec> specs, CancellationToken ct)
    {
        foreach (var spec in specs)
        {
            if (!components.TryGetPubSub(spec.PubSubName, out var pubsub))
            {
                logger.LogWarning("Subscription to {Topic} ({Origin}) names pubsub '{PubSub}', which is not loaded: skipped", spec.Topic, spec.Origin, spec.PubSubName);
                continue;
            }

            if (!TopicScopes.MaySubscribe(pubsub.Resource, appId, spec.Topic))
            {
                logger.LogWarning("Subscription to {Topic} is not allowed for {AppId} by the scopes of {PubSub}: skipped", spec.Topic, appId, spec.PubSubName);
                continue;
            }

            var template = pubsub.Resource.Get("consumerID");
            var group = consumerId.Resolve(template);
            var rules = spec.Rules.Select(r => (Match: RouteMatch.Compile(r.Match), r.Path)).ToArray();
            components.Resources.InboundComponentRetries.TryGetValue(spec.PubSubName, out var retry);
            var raw = spec.Metadata.TryGetValue("rawPayload", out var rp) && string.Equals(rp, "true", StringComparison.OrdinalIgnoreCase);
            var broker = pubsub.Broker;
            BulkBatcher? batcher = spec.Bulk is { } bulk
                ? new BulkBatcher(bulk, (batch, token) => HandleBulkAsync(spec, broker, rules, retry, raw, batch, token), logger)
                : null;
            var handler = batcher is not null
                ? new MessageHandler(batcher.HandleAsync)
                : new MessageHandler((message, token) => HandleAsync(spec, broker, rules, retry, raw, message, token));
            var subscription = await pubsub.Broker.SubscribeAsync(spec.Topic, group, handler, ct);
            // A per-start group ({uuid}) is never read again once this sidecar stops: the in-memory bus forgets it
            // rather than queueing for it forever (a broker such as Redis keeps it, as with daprd).
            _active.Add(ConsumerId.IsPerStart(template) && pubsub.Broker is InMemoryBroker bus
                ? new ThenForget(subscription, () => bus.RemoveGroup(spec.Topic, group))
                : subscription);
            if (batcher is not null)
            {
                // After the broker's workers: they stop waiting for their batches first, and their messages stay with the broker.
                _active.Add(batcher);
            }

            _specs.Add(spec);
            logger.LogInformation("Subscribed {AppId} to {PubSub}/{Topic} as consumer group {Group}", appId, spec.PubSubName, spec.Topic, group);
        }
    }

    private async Task<Ack> HandleAsync(SubscriptionSpec spec, IBroker broker, (Func<JsonElement, bool> Match, string Path)[] rules,
        RetryPolicy? retry, bool raw, BrokerMessage message, CancellationToken ct)
    {
        var envelope = raw ? CloudEvents.FromRawPayload(message.Data, spec.Topic, spec.PubSubName, message.Metadata) : WholeArray(message.Data);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(envelope);
        }
        catch (JsonException e)
        {
            logger.LogError("Message {MessageId} on {Topic} is not a CloudEvent ({Error}); a subscription without rawPayload cannot deliver it", message.Id, spec.Topic, e.Message);
            return await DeadLetterOrDropAsync(spec, broker, message, ct);
        }

        using (document)
        {
            return await HandleCloudEventAsync(spec, broker, rules, retry, envelope, document.RootElement, message, ct);
        }
    }

    /// <summary>The bytes as an array, without a copy when they already are one whole array (as the brokers hand them over).</summary>
    private static byte[] WholeArray(ReadOnlyMemory<byte> data) =>
        MemoryMarshal.TryGetArray(data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : data.ToArray();

    private async Task<Ack> HandleCloudEventAsync(SubscriptionSpec spec, IBroker broker, (Func<JsonElement, bool> Match, string Path)[] rules,
        RetryPolicy? retry, byte[] envelope, JsonElement cloudEvent, BrokerMessage message, CancellationToken ct)
    {
        if (cloudEvent.ValueKind != JsonValueKind.Object)
        {
            logger.LogError("Message {MessageId} on {Topic} is not a CloudEvent ({Error}); a subscription without rawPayload cannot deliver it", message.Id, spec.Topic, "not a JSON object");
            return await DeadLetterOrDropAsync(spec, broker, message, ct);
        }

        if (cloudEvent.TryGetProperty("expiration", out var exp) && DateTimeOffset.TryParse(exp.GetString(), out var expiresAt) && expiresAt < DateTimeOffset.UtcNow)
        {
            logger.LogInformation("Message {MessageId} on {Topic} expired at {Expiration}: not delivered", message.Id, spec.Topic, expiresAt);
            return await DeadLetterOrDropAsync(spec, broker, message, ct);
        }

        string? path = null;
        foreach (var rule in rules)
        {
            if (rule.Match(cloudEvent))
            {
                path = rule.Path;
                break;
            }
        }

        if (path is null)
        {
            // No rule matched: daprd drops the event (to the dead-letter topic when one is set) and counts it as handled.
            return await DeadLetterOrDropAsync(spec, broker, message, ct);
        }

        for (var attempt = 0; ; attempt++)
        {
            var outcome = await DeliverOnceAsync(spec, path, envelope, cloudEvent, message, ct);
            switch (outcome)
            {
                case Outcome.Success:
                    return Ack.Done;
                case Outcome.Drop:
                    return await DeadLetterOrDropAsync(spec, broker, message, ct);
            }

            if (MayRetry(retry, attempt))
            {
                await Task.Delay(retry.Delay(attempt + 1), ct);
                continue;
            }

            if (spec.DeadLetterTopic is not null)
            {
                return await DeadLetterOrDropAsync(spec, broker, message, ct);
            }

            return Ack.Redeliver;
        }
    }

    /// <summary>Whether the inbound Resiliency retry policy allows another try after try number <paramref name="attempt"/> (0-based).</summary>
    private static bool MayRetry([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] RetryPolicy? retry, int attempt) => retry is not null && (retry.MaxRetries < 0 || attempt < retry.MaxRetries);

    /// <summary>Sends one delivery in a consumer span that continues the trace the CloudEvent carries (replacing any trace headers the message brought).</summary>
    private async Task<Outcome> DeliverOnceAsync(SubscriptionSpec spec, string path, byte[] envelope, JsonElement cloudEvent, BrokerMessage message, CancellationToken ct)
    {
        using var hop = StartDeliverySpan(spec.Topic, cloudEvent);
        return await app.DeliverEventAsync(new EventDelivery(spec.PubSubName, spec.Topic, path, envelope, cloudEvent, message, hop.Traceparent, hop.Tracestate), ct);
    }

    private Tracing.Hop StartDeliverySpan(string topic, JsonElement? traced)
    {
        string? Trace(string name) => traced is { ValueKind: JsonValueKind.Object } ce && ce.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return tracing.Start($"pubsub/{topic}", System.Diagnostics.ActivityKind.Consumer, Trace("traceparent"), Trace("tracestate"));
    }

    private async Task<Ack> DeadLetterOrDropAsync(SubscriptionSpec spec, IBroker broker, BrokerMessage message, CancellationToken ct)
    {
        if (spec.DeadLetterTopic is null)
        {
            return Ack.Done;
        }

        // daprd dead-letters through its publisher (dapr/dapr pkg/runtime/subscription sendToDeadLetter), so this app's
        // publishing scopes apply; refused, the message stays with the broker as when the publish fails.
        if (components.TryGetPubSub(spec.PubSubName, out var pubsub) && !TopicScopes.MayPublish(pubsub.Resource, appId, spec.DeadLetterTopic))
        {
            logger.LogError("Could not dead-letter {MessageId}: {Error}; it stays with the broker", message.Id, TopicScopes.Forbidden(spec.DeadLetterTopic, appId).Message);
            return Ack.Redeliver;
        }

        try
        {
            await broker.PublishAsync(spec.DeadLetterTopic, message.Data, message.Metadata, ct);
            logger.LogWarning("Message {MessageId} on {Topic} sent to dead-letter topic {DeadLetterTopic}", message.Id, spec.Topic, spec.DeadLetterTopic);
            return Ack.Done;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Could not dead-letter {MessageId}; it stays with the broker", message.Id);
            return Ack.Redeliver;
        }
    }

    private sealed class ThenForget(IAsyncDisposable subscription, Action forget) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await subscription.DisposeAsync();
            forget();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _active)
        {
            await s.DisposeAsync();
        }

        _active.Clear();
    }
}
