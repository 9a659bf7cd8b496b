using System.Text.Encodings.Web;
using System.Text.Json;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Platform.Sidecar.PubSub;

namespace Platform.Sidecar.Invocation;

/// <summary>A CloudEvent (JSON) as the protobuf fields daprd sends a gRPC app with a topic event or a bulk entry.</summary>
internal static class GrpcCloudEvent
{
    private static readonly JsonWriterOptions GoJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The CloudEvent's fields as daprd fills <c>TopicEventRequest</c> / <c>TopicEventCERequest</c> (dapr/dapr
    /// <c>pkg/runtime/pubsub/subscriptions.go</c> GRPCEnvelopeFromSubscriptionMessage, extractCloudEvent): string
    /// attributes only; <c>data_base64</c> decoded; <c>data</c> as UTF-8 for a text or XML content type, as JSON (Go's
    /// encoding: keys sorted) for a JSON or CloudEvents one, else nothing; every other attribute in <c>extensions</c>.
    /// Throws <see cref="FormatException"/> where daprd fails the delivery (retriable).
    /// </summary>
    public static TopicEventCERequest From(JsonElement ce)
    {
        if (ce.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("not a CloudEvent");
        }

        string Text(string name) => ce.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        var contentType = Text("datacontenttype");
        var data = ByteString.Empty;
        if (ce.TryGetProperty("data_base64", out var b64) && b64.ValueKind != JsonValueKind.Null)
        {
            if (b64.ValueKind != JsonValueKind.String)
            {
                throw new FormatException("unexpected data type encountered in envelope");
            }

            data = ByteString.CopyFrom(Convert.FromBase64String(b64.GetString()!));
        }
        else if (ce.TryGetProperty("data", out var value) && value.ValueKind != JsonValueKind.Null)
        {
            if (IsStringContentType(contentType))
            {
                data = value.ValueKind == JsonValueKind.String
                    ? ByteString.CopyFromUtf8(value.GetString()!)
                    : throw new FormatException("unexpected data type encountered in envelope");
            }
            else if (IsContentType(contentType, "application/json") || IsContentType(contentType, CloudEvents.ContentType))
            {
                var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                using (var w = new Utf8JsonWriter(buffer, GoJson))
                {
                    WriteSorted(w, value);
                }

                data = ByteString.CopyFrom(buffer.WrittenSpan);
            }
        }

        var extensions = new Struct();
        foreach (var p in ce.EnumerateObject())
        {
            if (p.Name is not ("id" or "source" or "datacontenttype" or "type" or "specversion" or "data" or "data_base64"))
            {
                extensions.Fields[p.Name] = ToValue(p.Value);
            }
        }

        return new TopicEventCERequest
        {
            Id = Text("id"), Source = Text("source"), Type = Text("type"), SpecVersion = Text("specversion"), DataContentType = contentType, Data = data, Extensions = extensions,
        };
    }

    /// <summary>components-contrib <c>contenttype.IsStringContentType</c>: <c>text/*</c> or <c>application/xml</c>.</summary>
    private static bool IsStringContentType(string contentType) =>
        contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || IsContentType(contentType, "application/xml");

    /// <summary>components-contrib <c>contenttype.isContentType</c>: equal, ignoring case and any parameters.</summary>
    private static bool IsContentType(string contentType, string expected)
    {
        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semicolon >= 0 ? contentType[..semicolon] : contentType).Equals(expected, StringComparison.OrdinalIgnoreCase);
    }

    private static void WriteSorted(Utf8JsonWriter w, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    w.WritePropertyName(p.Name);
                    WriteSorted(w, p.Value);
                }

                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray())
                {
                    WriteSorted(w, item);
                }

                w.WriteEndArray();
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }

    private static Value ToValue(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => Value.ForStruct(ToStruct(e)),
        JsonValueKind.Array => Value.ForList([.. e.EnumerateArray().Select(ToValue)]),
        JsonValueKind.String => Value.ForString(e.GetString()!),
        JsonValueKind.Number => Value.ForNumber(e.GetDouble()),
        JsonValueKind.True => Value.ForBool(true),
        JsonValueKind.False => Value.ForBool(false),
        _ => Value.ForNull(),
    };

    private static Struct ToStruct(JsonElement e)
    {
        var s = new Struct();
        foreach (var p in e.EnumerateObject())
        {
            s.Fields[p.Name] = ToValue(p.Value);
        }

        return s;
    }
}
