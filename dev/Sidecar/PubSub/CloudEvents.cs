using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Sidecar.Api;

namespace Platform.Sidecar.PubSub;

/// <summary>
/// Builds the CloudEvents 1.0 envelope the way daprd does on publish (components-contrib
/// <c>pubsub/envelope.go</c> NewCloudEventsEnvelope / FromCloudEvent; dapr <c>pkg/runtime/pubsub/cloudevents.go</c>):
/// <c>id</c> a new UUID, <c>source</c> the publisher's app-id, <c>type</c> com.dapr.event.sent, <c>datacontenttype</c>
/// from the request (text/plain when empty), JSON data embedded as JSON, binary data as <c>data_base64</c>,
/// <c>topic</c>/<c>pubsubname</c> always set by the sidecar, <c>traceid</c> = <c>traceparent</c>, and <c>cloudevent.*</c>
/// metadata overriding id, source, type, subject and trace fields.
/// </summary>
public static class CloudEvents
{
    public const string ContentType = "application/cloudevents+json";

    public static byte[] Wrap(string appId, string pubsub, string topic, ReadOnlyMemory<byte> data, string? contentType,
        IReadOnlyDictionary<string, string> metadata, string? traceparent, string? tracestate)
    {
        metadata.TryGetValue("cloudevent.traceparent", out var metaTrace);
        traceparent = metaTrace ?? traceparent ?? NewTraceparent();
        tracestate = metadata.TryGetValue("cloudevent.tracestate", out var metaState) ? metaState : tracestate ?? "";
        var buffer = new ArrayBufferWriter<byte>(data.Length + 512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (IsCloudEvent(contentType))
            {
                // The publisher sent its own envelope: keep it, let the sidecar own topic/pubsubname, fill gaps.
                JsonElement given;
                try
                {
                    given = JsonDocument.Parse(data).RootElement;
                }
                catch (JsonException e)
                {
                    throw new DaprError("ERR_PUBSUB_CLOUD_EVENTS_SER", $"error when publishing to topic {topic} in pubsub {pubsub}: the payload is not a valid CloudEvent: {e.Message}", 400, Grpc.Core.StatusCode.InvalidArgument);
                }

                if (given.ValueKind != JsonValueKind.Object)
                {
                    throw new DaprError("ERR_PUBSUB_CLOUD_EVENTS_SER", $"error when publishing to topic {topic} in pubsub {pubsub}: a CloudEvent must be a JSON object", 400, Grpc.Core.StatusCode.InvalidArgument);
                }

                foreach (var p in given.EnumerateObject().Where(p => p.Name is not ("topic" or "pubsubname")))
                {
                    p.WriteTo(w);
                }

                WriteIfMissing(w, given, "id", metadata.GetValueOrDefault("cloudevent.id") ?? NewId());
                WriteIfMissing(w, given, "source", appId.Length > 0 ? appId : "Dapr");
                WriteIfMissing(w, given, "type", "com.dapr.event.sent");
                WriteIfMissing(w, given, "specversion", "1.0");
                WriteIfMissing(w, given, "time", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture));
                WriteIfMissing(w, given, "traceid", traceparent);
                WriteIfMissing(w, given, "traceparent", traceparent);
                WriteIfMissing(w, given, "tracestate", tracestate);
            }
            else
            {
                contentType = string.IsNullOrEmpty(contentType) ? "text/plain" : contentType;
                w.WriteString("id", metadata.GetValueOrDefault("cloudevent.id") ?? NewId());
                w.WriteString("source", metadata.GetValueOrDefault("cloudevent.source") ?? (appId.Length > 0 ? appId : "Dapr"));
                w.WriteString("type", metadata.GetValueOrDefault("cloudevent.type") ?? "com.dapr.event.sent");
                w.WriteString("specversion", "1.0");
                w.WriteString("datacontenttype", contentType);
                if (metadata.TryGetValue("cloudevent.subject", out var subject))
                {
                    w.WriteString("subject", subject);
                }

                w.WriteString("traceid", traceparent);
                w.WriteString("traceparent", traceparent);
                w.WriteString("tracestate", tracestate);
                w.WriteString("time", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture));
                WriteData(w, data, contentType);
            }

            if (metadata.TryGetValue("ttlInSeconds", out var ttlText) && int.TryParse(ttlText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ttl) && ttl > 0)
            {
                w.WriteString("expiration", DateTimeOffset.UtcNow.AddSeconds(ttl).ToString("O", CultureInfo.InvariantCulture));
            }

            w.WriteString("topic", topic);
            w.WriteString("pubsubname", pubsub);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>What daprd delivers to a <c>rawPayload</c> subscription: the raw bytes as <c>data_base64</c> (FromRawPayload).</summary>
    public static byte[] FromRawPayload(ReadOnlyMemory<byte> data, string topic, string pubsub, IReadOnlyDictionary<string, string> metadata)
    {
        var buffer = new ArrayBufferWriter<byte>(data.Length * 4 / 3 + 256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", NewId());
            w.WriteString("specversion", "1.0");
            w.WriteString("datacontenttype", "application/octet-stream");
            w.WriteString("source", "Dapr");
            w.WriteString("type", "com.dapr.event.sent");
            w.WriteString("topic", topic);
            w.WriteString("pubsubname", pubsub);
            if (metadata.TryGetValue("traceparent", out var tp))
            {
                w.WriteString("traceid", tp);
                w.WriteString("traceparent", tp);
            }

            w.WriteBase64String("data_base64", data.Span);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static bool IsCloudEvent(string? contentType) =>
        contentType is not null && contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase);

    private static bool IsJson(string contentType)
    {
        var media = contentType.Split(';')[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsText(string contentType)
    {
        var media = contentType.Split(';')[0].Trim();
        return media.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || media.EndsWith("/xml", StringComparison.OrdinalIgnoreCase)
            || media.EndsWith("+xml", StringComparison.OrdinalIgnoreCase);
    }

    private static void WriteData(Utf8JsonWriter w, ReadOnlyMemory<byte> data, string contentType)
    {
        if (IsJson(contentType))
        {
            try
            {
                using var doc = JsonDocument.Parse(data);
                w.WritePropertyName("data");
                doc.RootElement.WriteTo(w);
                return;
            }
            catch (JsonException)
            {
                // Not JSON after all: daprd keeps it as a string.
            }
        }

        if (IsJson(contentType) || IsText(contentType))
        {
            w.WriteString("data", Encoding.UTF8.GetString(data.Span));
        }
        else
        {
            w.WriteBase64String("data_base64", data.Span);
        }
    }

    private static void WriteIfMissing(Utf8JsonWriter w, JsonElement given, string name, string value)
    {
        if (!given.TryGetProperty(name, out _))
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>
    /// A random (version 4) UUID as text, as <see cref="Guid.NewGuid"/> makes one, but with the random bytes taken
    /// from a per-thread buffer the OS's secure generator fills 4 KiB at a time: one system call per 256 ids
    /// instead of one per event (a system call costs microseconds on a virtual machine).
    /// </summary>
    public static string NewId()
    {
        var pool = _idPool;
        if (pool is null || _idNext + 16 > pool.Length)
        {
            pool = _idPool ??= new byte[4096];
            RandomNumberGenerator.Fill(pool);
            _idNext = 0;
        }

        Span<byte> bytes = stackalloc byte[16];
        var slice = pool.AsSpan(_idNext, 16);
        slice.CopyTo(bytes);
        slice.Clear();
        _idNext += 16;
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40); // version 4
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true).ToString();
    }

    [ThreadStatic]
    private static byte[]? _idPool;

    [ThreadStatic]
    private static int _idNext;

    /// <summary>The W3C traceparent of the current activity, or a fresh sampled one.</summary>
    public static string NewTraceparent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id! : $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";
}
