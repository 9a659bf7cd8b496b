using Dapr.AppCallback.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.PubSub;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// Pub/sub over the gRPC app channel: the app's subscriptions (<c>ListTopicSubscriptions</c>) and the delivery of
/// topic events (<c>OnTopicEvent</c>) and bulk topic events (<c>OnBulkTopicEvent</c>, <c>OnBulkTopicEventAlpha1</c>).
/// </summary>
public sealed partial class GrpcAppChannel
{
    private const string BulkEventType = "com.dapr.event.sent.bulk";

    private static readonly Method<Empty, ListTopicSubscriptionsResponse> ListTopicSubscriptions = Unary<Empty, ListTopicSubscriptionsResponse>(Callback, "ListTopicSubscriptions");
    private static readonly Method<TopicEventRequest, TopicEventResponse> OnTopicEvent = Unary<TopicEventRequest, TopicEventResponse>(Callback, "OnTopicEvent");
    private static readonly Method<TopicEventBulkRequest, TopicEventBulkResponse> OnBulkTopicEvent = Unary<TopicEventBulkRequest, TopicEventBulkResponse>(Callback, "OnBulkTopicEvent");
    private static readonly Method<TopicEventBulkRequest, TopicEventBulkResponse> OnBulkTopicEventAlpha1 = Unary<TopicEventBulkRequest, TopicEventBulkResponse>(CallbackAlpha, "OnBulkTopicEventAlpha1");

    /// <summary>
    /// <c>ListTopicSubscriptions</c> (dapr/dapr <c>pkg/runtime/pubsub/subscriptions.go</c> GetSubscriptionsGRPC):
    /// Unimplemented means none; the rules, then the default route; no routes at all is one rule with the empty path.
    /// </summary>
    public async Task<List<SubscriptionSpec>> ListSubscriptionsAsync(CancellationToken ct)
    {
        ListTopicSubscriptionsResponse response;
        try
        {
            response = await CallAsync(ListTopicSubscriptions, new Empty(), new Metadata(), ct);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            _logger.LogInformation("pubsub subscriptions: gRPC app does not implement ListTopicSubscriptions");
            return [];
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            _logger.LogError("error getting topic list from app: {Error}", e.Status);
            return [];
        }

        var result = new List<SubscriptionSpec>();
        try
        {
            foreach (var s in response.Subscriptions)
            {
                var rules = new List<RouteRule>();
                if (s.Routes is { } routes)
                {
                    foreach (var rule in routes.Rules)
                    {
                        var match = rule.Match.Trim();
                        RouteMatch.Compile(match);
                        rules.Add(new RouteRule(match, rule.Path));
                    }

                    if (routes.Default.Length > 0)
                    {
                        rules.Add(new RouteRule("", routes.Default));
                    }
                }

                if (rules.Count == 0)
                {
                    rules.Add(new RouteRule("", ""));
                }

                var bulk = s.BulkSubscribe is { } b
                    ? BulkSubscribeOptions.From(b.Enabled, b.MaxMessagesCount > 0 ? b.MaxMessagesCount : null, b.MaxAwaitDurationMs > 0 ? b.MaxAwaitDurationMs : null)
                    : null;
                result.Add(new SubscriptionSpec(s.PubsubName, s.Topic, rules, s.DeadLetterTopic.Length > 0 ? s.DeadLetterTopic : null,
                    new Dictionary<string, string>(s.Metadata, StringComparer.Ordinal), "app", bulk));
            }
        }
        catch (FormatException e)
        {
            _logger.LogError("ListTopicSubscriptions returned an unusable answer, no subscriptions: {Error}", e.Message);
            return [];
        }

        return result;
    }

    /// <summary>
    /// <c>OnTopicEvent</c> (postman/grpc/grpc.go Deliver): SUCCESS done, RETRY or an unknown status retries, DROP
    /// drops; a gRPC error retries, except Unimplemented, which daprd takes as handled (the event is acked, not dead-lettered).
    /// </summary>
    public async Task<DeliveryOutcome> DeliverEventAsync(EventDelivery delivery, CancellationToken ct)
    {
        TopicEventRequest request;
        try
        {
            request = new TopicEventRequest { Topic = delivery.Topic, PubsubName = delivery.PubSubName, Path = delivery.Path };
            var ce = GrpcCloudEvent.From(delivery.CloudEvent);
            (request.Id, request.Source, request.Type, request.SpecVersion, request.DataContentType, request.Data, request.Extensions) =
                (ce.Id, ce.Source, ce.Type, ce.SpecVersion, ce.DataContentType, ce.Data, ce.Extensions);
        }
        catch (FormatException e)
        {
            _logger.LogWarning("Message {MessageId} on {Topic} cannot be sent over gRPC ({Error}): will retry", delivery.Message.Id, delivery.Topic, e.Message);
            return DeliveryOutcome.Retry;
        }

        var metadata = EventMetadata(delivery.Message.Metadata, delivery.PubSubName, delivery.Traceparent, delivery.Tracestate);
        try
        {
            var response = await CallAsync(OnTopicEvent, request, metadata, ct);
            switch (response.Status)
            {
                case TopicEventResponse.Types.TopicEventResponseStatus.Success:
                    return DeliveryOutcome.Success;
                case TopicEventResponse.Types.TopicEventResponseStatus.Drop:
                    _logger.LogWarning("DROP status returned from app while processing pub/sub event {MessageId}", request.Id);
                    return DeliveryOutcome.Drop;
                default:
                    _logger.LogInformation("The app answered {Status} for {MessageId} on {Topic}: will retry", response.Status, delivery.Message.Id, delivery.Topic);
                    return DeliveryOutcome.Retry;
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            _logger.LogWarning("non-retriable error returned from app while processing pub/sub event {Id}: {Error}", request.Id, e.Status);
            return DeliveryOutcome.Success;
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            _logger.LogWarning("error returned from app while processing pub/sub event {Id} on {Topic}: {Error}: will retry", request.Id, delivery.Topic, e.Status);
            return DeliveryOutcome.Retry;
        }
    }

    /// <summary>
    /// <c>OnBulkTopicEvent</c>, falling back to <c>AppCallbackAlpha.OnBulkTopicEventAlpha1</c> when the app does not
    /// implement it (postman/grpc/grpc.go DeliverBulk): per-entry statuses as for one event; an entry the app leaves
    /// out fails; a gRPC error fails every entry, Unimplemented (both) drops them all.
    /// </summary>
    public async Task<Dictionary<string, DeliveryOutcome>> DeliverBulkAsync(BulkDelivery delivery, CancellationToken ct)
    {
        var result = new Dictionary<string, DeliveryOutcome>(StringComparer.Ordinal);
        var request = new TopicEventBulkRequest
        {
            Id = Guid.NewGuid().ToString(),
            Topic = delivery.Topic,
            PubsubName = delivery.PubSubName,
            Type = BulkEventType,
            Path = delivery.Path,
        };
        request.Metadata.Add("pubsubName", delivery.PubSubName);
        foreach (var entry in delivery.Entries)
        {
            var item = new TopicEventBulkRequestEntry { EntryId = entry.EntryId, ContentType = entry.ContentType };
            foreach (var (k, v) in entry.Message.Metadata)
            {
                item.Metadata[k] = v;
            }

            if (entry.CloudEvent is not { } ce)
            {
                item.Bytes = ByteString.CopyFrom(entry.Message.Data.Span);
            }
            else
            {
                try
                {
                    item.CloudEvent = GrpcCloudEvent.From(ce);
                }
                catch (FormatException e)
                {
                    _logger.LogWarning("Message {MessageId} on {Topic} cannot be sent over gRPC ({Error}): will retry", entry.Message.Id, delivery.Topic, e.Message);
                    continue;
                }
            }

            request.Entries.Add(item);
        }

        TopicEventBulkResponse response;
        try
        {
            try
            {
                response = await CallAsync(OnBulkTopicEvent, request, EventMetadata(null, delivery.PubSubName, delivery.Traceparent, delivery.Tracestate), ct);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                _logger.LogDebug("falling back to OnBulkTopicEventAlpha1 due to unimplemented error: {Error}", e.Status);
                response = await CallAsync(OnBulkTopicEventAlpha1, request, EventMetadata(null, delivery.PubSubName, delivery.Traceparent, delivery.Tracestate), ct);
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            _logger.LogWarning("non-retriable error returned from app while processing bulk pub/sub event: {Error}", e.Status);
            foreach (var entry in delivery.Entries)
            {
                result[entry.EntryId] = DeliveryOutcome.Success;
            }

            return result;
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            _logger.LogWarning("error returned from app while processing bulk pub/sub event on {Topic}: {Error}: will retry", delivery.Topic, e.Status);
            return result;
        }

        var ids = request.Entries.Select(e => e.EntryId).ToHashSet(StringComparer.Ordinal);
        foreach (var s in response.Statuses)
        {
            if (!ids.Contains(s.EntryId))
            {
                _logger.LogWarning("Invalid entry id received from app while processing pub/sub event {EntryId}", s.EntryId);
                continue;
            }

            result[s.EntryId] = s.Status switch
            {
                TopicEventResponse.Types.TopicEventResponseStatus.Success => DeliveryOutcome.Success,
                TopicEventResponse.Types.TopicEventResponseStatus.Drop => DeliveryOutcome.Drop,
                _ => DeliveryOutcome.Retry,
            };
        }

        return result;
    }

    /// <summary>
    /// The message's metadata as gRPC metadata (lower-cased; not content-type/-length: util.go WithCustomGRPCMetadata),
    /// <c>pubsubname</c>, and the delivery span's <c>traceparent</c>, <c>tracestate</c> and <c>grpc-trace-bin</c>.
    /// </summary>
    private static Metadata EventMetadata(IReadOnlyDictionary<string, string>? message, string pubsubName, string? traceparent, string? tracestate)
    {
        var metadata = new Metadata();
        if (message is not null)
        {
            foreach (var (k, v) in message)
            {
                var key = k.ToLowerInvariant();
                if (key is not ("content-type" or "content-length" or "traceparent" or "tracestate" or "grpc-trace-bin" or "pubsubname"))
                {
                    AddMetadata(metadata, key, v);
                }
            }
        }

        metadata.Add("pubsubname", pubsubName);
        AddTrace(metadata, traceparent, tracestate);
        return metadata;
    }
}
