using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.PubSub;

/// <summary>
/// Bulk subscribe over HTTP, as daprd does it (dapr/dapr <c>pkg/runtime/subscription/bulksubscription.go</c>,
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
    private const string BulkEventType = "com.dapr.event.sent.bulk";

    private sealed class BulkEntry(BrokerMessage message)
    {
        public BrokerMessage Message { get; } = message;

        public string EntryId { get; } = Guid.NewGuid().ToString();

        /// <summary>The JSON written as the entry's <c>event</c>: the CloudEvent, or the raw payload as a base64 string.</summary>
        public byte[] Event { get; set; } = [];

        public JsonElement? CloudEvent { get; set; }

        public string ContentType { get; set; } = CloudEvents.ContentType;

        /// <summary>The broker's answer once known; null while it still fails (to retry, dead-letter or redeliver).</summary>
        public Ack? Ack { get; set; }
    }

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

    /// <summary>One POST of a bulk envelope; the outcome of each entry by entry id (an entry not in the result failed).</summary>
    private async Task<Dictionary<string, Outcome>> DeliverBulkOnceAsync(SubscriptionSpec spec, string path, List<BulkEntry> entries, CancellationToken ct)
    {
        var result = new Dictionary<string, Outcome>(StringComparer.Ordinal);
        using var lease = await app.AcquireAsync(ct);
        using var request = app.Request(HttpMethod.Post, path);
        request.Content = new ByteArrayContent(BulkEnvelope(spec, entries));
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        request.Headers.TryAddWithoutValidation("pubsubName", spec.PubSubName);

        // daprd starts a span per entry that carries a trace context and sends the request in the last one's context.
        var traced = entries.LastOrDefault(e => e.CloudEvent is { } ce && ce.TryGetProperty("traceparent", out var tp) && tp.ValueKind == JsonValueKind.String)?.CloudEvent;
        if (await SendTracedAsync(request, spec.Topic, traced, $"Bulk delivery of {entries.Count} events", path, ct) is not { } response)
        {
            return result;
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                // daprd counts every entry as dropped, without dead-lettering them.
                logger.LogWarning("The app answered 404 for {Topic} at /{Path}: {Count} bulk events dropped", spec.Topic, path.TrimStart('/'), entries.Count);
                foreach (var e in entries)
                {
                    result[e.EntryId] = Outcome.Success;
                }

                return result;
            }

            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("The app answered {Status} for {Count} bulk events on {Topic}: will retry", (int)response.StatusCode, entries.Count, spec.Topic);
                return result;
            }

            var body = await response.Content.ReadAsByteArrayAsync(ct);
            var ids = entries.Select(e => e.EntryId).ToHashSet(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (Property(doc.RootElement, "statuses") is { ValueKind: JsonValueKind.Array } statuses)
                {
                    foreach (var s in statuses.EnumerateArray())
                    {
                        if (Property(s, "entryId") is not { ValueKind: JsonValueKind.String } id || !ids.Contains(id.GetString()!))
                        {
                            logger.LogWarning("The app answered a status for an unknown entry id on {Topic}", spec.Topic);
                            continue;
                        }

                        // Exact, as daprd compares them; an empty or unknown status means RETRY.
                        result[id.GetString()!] = (Property(s, "status") is { ValueKind: JsonValueKind.String } st ? st.GetString() : null) switch
                        {
                            "SUCCESS" => Outcome.Success,
                            "DROP" => Outcome.Drop,
                            _ => Outcome.Retry,
                        };
                    }
                }
            }
            catch (JsonException e)
            {
                logger.LogWarning("The app's answer to a bulk delivery on {Topic} is unreadable ({Error}): will retry", spec.Topic, e.Message);
                return [];
            }

            var retried = entries.Count - result.Values.Count(o => o != Outcome.Retry);
            if (retried > 0)
            {
                logger.LogInformation("The app answered RETRY (or nothing) for {Count} of {Total} bulk events on {Topic}", retried, entries.Count, spec.Topic);
            }

            return result;
        }
    }

    /// <summary>A JSON object's property by name, ignoring case as Go's decoder does; null when absent or not an object.</summary>
    private static JsonElement? Property(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.EnumerateObject().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: not JsonValueKind.Undefined } p
            ? p.Value
            : null;

    /// <summary>The bulk envelope, keys in the order Go writes a map (sorted).</summary>
    private static byte[] BulkEnvelope(SubscriptionSpec spec, List<BulkEntry> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(entries.Sum(e => e.Event.Length + 256) + 256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("entries");
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteString("entryId", e.EntryId);
                w.WritePropertyName("event");
                w.WriteRawValue(e.Event, skipInputValidation: true);
                w.WriteStartObject("metadata");
                foreach (var (k, v) in e.Message.Metadata)
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
                w.WriteString("contentType", e.ContentType);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("id", Guid.NewGuid().ToString());
            w.WriteStartObject("metadata");
            w.WriteString("pubsubName", spec.PubSubName);
            w.WriteEndObject();
            w.WriteString("pubsubname", spec.PubSubName);
            w.WriteString("topic", spec.Topic);
            w.WriteString("type", BulkEventType);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
