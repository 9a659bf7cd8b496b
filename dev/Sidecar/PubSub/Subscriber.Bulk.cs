using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.Resources;
using Outcome = Platform.Sidecar.Invocation.DeliveryOutcome;

namespace Platform.Sidecar.PubSub;

/// <summary>One message of a bulk delivery, as the app channels send it.</summary>
public sealed class BulkEntry(BrokerMessage message)
{
    public BrokerMessage Message { get; } = message;

    public string EntryId { get; } = Guid.NewGuid().ToString();

    /// <summary>The JSON written as the entry's <c>event</c> over HTTP: the CloudEvent, or the raw payload as a base64 string.</summary>
    public byte[] Event { get; set; } = [];

    /// <summary>The parsed CloudEvent; null for a raw payload (<see cref="Message"/>'s data as is).</summary>
    public JsonElement? CloudEvent { get; set; }

    public string ContentType { get; set; } = CloudEvents.ContentType;

    /// <summary>The broker's answer once known; null while it still fails (to retry, dead-letter or redeliver).</summary>
    internal Ack? Ack { get; set; }
}

/// <summary>
/// Bulk subscribe, as daprd does it (dapr/dapr <c>pkg/runtime/subscription/bulksubscription.go</c>,
/// <c>bulkresiliency.go</c>, <c>postman/http/http.go</c> DeliverBulk, <c>pkg/runtime/pubsub/bulksubscribe_events.go</c>):
/// each entry is routed on its own (no matching rule or expired: dead-letter topic if set, else dropped; not a
/// CloudEvent: failed); the entries of one path go in one POST with Content-Type <c>application/json</c> and the
/// envelope <c>{entries, id, metadata, pubsubname, topic, type: com.dapr.event.sent.bulk}</c>, each entry
/// <c>{entryId, event, metadata, contentType}</c> (raw payloads as base64, <c>application/octet-stream</c>). The app
/// answers <c>{"statuses":[{"entryId","status"}]}</c>: SUCCESS done; DROP dead-lettered if set, else dropped; RETRY,
/// an empty or unknown status or an entry left out fails; a non-2xx answer, an unreadable body or the app
/// unreachable fails every entry; 404 drops them all. Failed entries are retried alone per the inbound Resiliency
/// policy, then dead-lettered if a topic is set, else left with the broker for redelivery.
/// </summary>
public sealed partial class Subscriber
{
    private async Task<Ack[]> HandleBulkAsync(SubscriptionSpec spec, IBroker broker, (Func<JsonElement, bool> Match, string Path)[] rules,
        RetryPolicy? retry, bool raw, IReadOnlyList<BrokerMessage> messages, CancellationToken ct)
    {
        var entries = messages.Select(m => new BulkEntry(m)).ToList();
        var byPath = new Dictionary<string, List<BulkEntry>>(StringComparer.Ordinal);
        var documents = new List<JsonDocument>();
        try
        {
            foreach (var entry in entries)
            {
                var message = entry.Message;
                JsonElement matchOn;
                if (raw)
                {
                    // daprd matches a raw payload's rules against the payload as a string, and sends it base64-encoded.
                    matchOn = JsonSerializer.SerializeToElement(Encoding.UTF8.GetString(message.Data.Span));
                    entry.Event = JsonSerializer.SerializeToUtf8Bytes(Convert.ToBase64String(message.Data.Span));
                    entry.ContentType = "application/octet-stream";
                }
                else
                {
                    JsonDocument document;
                    try
                    {
                        document = JsonDocument.Parse(message.Data);
                    }
                    catch (JsonException e)
                    {
                        logger.LogError("Message {MessageId} on {Topic} is not a CloudEvent ({Error}); a subscription without rawPayload cannot deliver it", message.Id, spec.Topic, e.Message);
                        continue;
                    }

                    documents.Add(document);
                    if (document.RootElement.ValueKind != JsonValueKind.Object)
                    {
                        logger.LogError("Message {MessageId} on {Topic} is not a CloudEvent ({Error}); a subscription without rawPayload cannot deliver it", message.Id, spec.Topic, "not a JSON object");
                        continue;
                    }

                    matchOn = document.RootElement;
                    entry.CloudEvent = matchOn;
                    entry.Event = WholeArray(message.Data);
                    if (matchOn.TryGetProperty("expiration", out var exp) && DateTimeOffset.TryParse(exp.GetString(), out var expiresAt) && expiresAt < DateTimeOffset.UtcNow)
                    {
                        logger.LogInformation("Message {MessageId} on {Topic} expired at {Expiration}: not delivered", message.Id, spec.Topic, expiresAt);
                        entry.Ack = await DeadLetterOrDropAsync(spec, broker, message, ct);
                        continue;
                    }
                }

                var path = rules.FirstOrDefault(r => r.Match(matchOn)).Path;
                if (path is null)
                {
                    entry.Ack = await DeadLetterOrDropAsync(spec, broker, message, ct);
                    continue;
                }

                if (!byPath.TryGetValue(path, out var list))
                {
                    byPath[path] = list = [];
                }

                list.Add(entry);
            }

            foreach (var (path, list) in byPath)
            {
                await DeliverBulkWithRetriesAsync(spec, broker, retry, path, list, ct);
            }
        }
        finally
        {
            foreach (var d in documents)
            {
                d.Dispose();
            }
        }

        // What still fails: dead-lettered when a topic is set (sendBulkToDLQIfConfigured), else back to the broker.
        var acks = new Ack[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            acks[i] = entries[i].Ack
                ?? (spec.DeadLetterTopic is not null ? await DeadLetterOrDropAsync(spec, broker, entries[i].Message, ct) : Ack.Redeliver);
        }

        return acks;
    }

    /// <summary>Posts the entries of one path, then again only those that failed while the retry policy allows (applyBulkSubscribeResiliency).</summary>
    private async Task DeliverBulkWithRetriesAsync(SubscriptionSpec spec, IBroker broker, RetryPolicy? retry, string path, List<BulkEntry> entries, CancellationToken ct)
    {
        var pending = entries;
        for (var attempt = 0; ; attempt++)
        {
            var statuses = await DeliverBulkOnceAsync(spec, path, pending, ct);
            foreach (var entry in pending)
            {
                switch (statuses.GetValueOrDefault(entry.EntryId, Outcome.Retry))
                {
                    case Outcome.Success:
                        entry.Ack = Ack.Done;
                        break;
                    case Outcome.Drop:
                        entry.Ack = await DeadLetterOrDropAsync(spec, broker, entry.Message, ct);
                        break;
                }
            }

            pending = [.. pending.Where(e => e.Ack is null)];
            if (pending.Count == 0 || !MayRetry(retry, attempt))
            {
                return;
            }

            await Task.Delay(retry.Delay(attempt + 1), ct);
        }
    }

    /// <summary>One bulk call to the app; the outcome of each entry by entry id (an entry not in the result failed).</summary>
    private async Task<Dictionary<string, Outcome>> DeliverBulkOnceAsync(SubscriptionSpec spec, string path, List<BulkEntry> entries, CancellationToken ct)
    {
        // daprd starts a span per entry that carries a trace context and sends the request in the last one's context.
        var traced = entries.LastOrDefault(e => e.CloudEvent is { } ce && ce.TryGetProperty("traceparent", out var tp) && tp.ValueKind == JsonValueKind.String)?.CloudEvent;
        using var hop = traced is not null ? StartDeliverySpan(spec.Topic, traced) : null;
        return await app.DeliverBulkAsync(new BulkDelivery(spec.PubSubName, spec.Topic, path, entries, hop?.Traceparent, hop?.Tracestate), ct);
    }
}
