using System.Buffers;
using System.Net;
using System.Text.Json;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.PubSub;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The app channel over HTTP (daprd's <c>pkg/channel/http</c> and <c>pkg/runtime/subscription/postman/http</c>), over
/// HTTP/1.1 or, with <c>--app-protocol h2c</c>, cleartext HTTP/2. Invocation streams the app's answer back untouched.
/// </summary>
public sealed class HttpAppChannel(AppChannel connection, string appId, bool hasApiToken, ILogger logger) : IAppChannel
{
    private const string BulkEventType = "com.dapr.event.sent.bulk";

    public AppChannel Connection { get; } = connection;

    public AppProtocol Protocol => Connection.Protocol;

    public async Task<InvocationResult> InvokeMethodAsync(OutboundCall call, CancellationToken ct)
    {
        var app = Connection;
        var lease = await app.AcquireAsync(ct);
        try
        {
            using var request = Invoker.Build(call, new Uri(app.BaseAddress!, "/" + MethodPath.Escape(call.Path.TrimStart('/')) + call.Query), toApp: true);
            app.UseVersion(request);
            request.Headers.TryAddWithoutValidation("dapr-caller-app-id", call.CallerAppId ?? appId);
            request.Headers.TryAddWithoutValidation("dapr-callee-app-id", appId);
            if (hasApiToken || app.AppApiToken is not null)
            {
                // The app's own API token never travels on; the callee's app token (if any) replaces it.
                request.Headers.Remove("dapr-api-token");
            }

            if (app.AppApiToken is not null)
            {
                request.Headers.TryAddWithoutValidation("dapr-api-token", app.AppApiToken);
            }

            var response = await app.Client.SendAsync(request, ct); // an HttpMessageInvoker streams the body: nothing is buffered
            return new InvocationResult(response, lease);
        }
        catch (HttpRequestException e)
        {
            lease.Dispose();
            throw DaprError.DirectInvoke($"failed to invoke, id: {appId}, err: the app did not answer: {e.Message}");
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Asks the app which topics it subscribes to. 404 means none; other failures are logged and mean none, as in daprd.</summary>
    public async Task<List<SubscriptionSpec>> ListSubscriptionsAsync(CancellationToken ct)
    {
        using var lease = await Connection.AcquireAsync(ct);
        using var request = Connection.Request(HttpMethod.Get, "/dapr/subscribe");
        request.Headers.TryAddWithoutValidation("dapr-app-id", appId);
        HttpResponseMessage response;
        try
        {
            response = await Connection.Client.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            logger.LogWarning("GET /dapr/subscribe failed: {Error}", e.Message);
            return [];
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return [];
            }

            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("GET /dapr/subscribe answered {Status}: no subscriptions", (int)response.StatusCode);
                return [];
            }

            var body = await response.Content.ReadAsByteArrayAsync(ct);
            try
            {
                return Subscriber.ParseDiscovery(body);
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                logger.LogError("GET /dapr/subscribe returned an unusable answer, no subscriptions: {Error}", e.Message);
                return [];
            }
        }
    }

    /// <summary>
    /// POST to the route with <c>Content-Type: application/cloudevents+json</c> and the message metadata as headers
    /// (dapr/dapr <c>postman/http/http.go</c> Deliver): 2xx with no status or SUCCESS is done, DROP or 404 drops,
    /// anything else (RETRY, an unknown status, another HTTP status, the app unreachable) retries.
    /// </summary>
    public async Task<DeliveryOutcome> DeliverEventAsync(EventDelivery delivery, CancellationToken ct)
    {
        var message = delivery.Message;
        using var lease = await Connection.AcquireAsync(ct);
        using var request = Connection.Request(HttpMethod.Post, delivery.Path);
        request.Content = new ByteArrayContent(delivery.Envelope);
        request.Content.Headers.TryAddWithoutValidation("Content-Type", CloudEvents.ContentType);
        foreach (var (k, v) in message.Metadata)
        {
            if (!k.Equals("content-length", StringComparison.OrdinalIgnoreCase) && !k.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.TryAddWithoutValidation(k, v);
            }
        }

        request.Headers.TryAddWithoutValidation("pubsubName", delivery.PubSubName);
        Trace(request, delivery.Traceparent, delivery.Tracestate);
        HttpResponseMessage response;
        try
        {
            response = await Connection.Client.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            logger.LogWarning("{What} on {Topic} to /{Path} failed: {Error}", $"Delivering {message.Id}", delivery.Topic, delivery.Path.TrimStart('/'), e.Message);
            return DeliveryOutcome.Retry;
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                logger.LogWarning("The app answered 404 for {Topic} at /{Path}: event dropped", delivery.Topic, delivery.Path.TrimStart('/'));
                return DeliveryOutcome.Drop;
            }

            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("The app answered {Status} for {MessageId} on {Topic}: will retry", (int)response.StatusCode, message.Id, delivery.Topic);
                return DeliveryOutcome.Retry;
            }

            // An empty answer (the common one) is SUCCESS without reading anything.
            var status = response.Content.Headers.ContentLength == 0 ? null : ReadStatus(await response.Content.ReadAsByteArrayAsync(ct));
            switch (status)
            {
                case null or "" or "SUCCESS":
                    return DeliveryOutcome.Success;
                case "DROP":
                    logger.LogWarning("The app asked to DROP {MessageId} on {Topic}", message.Id, delivery.Topic);
                    return DeliveryOutcome.Drop;
                default:
                    logger.LogInformation("The app answered {Status} for {MessageId} on {Topic}: will retry", status, message.Id, delivery.Topic);
                    return DeliveryOutcome.Retry;
            }
        }
    }

    private static string? ReadStatus(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String
                ? s.GetString()!.ToUpperInvariant()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Sends one delivery with the delivery span's trace context (replacing any the message brought); null when the app cannot be reached.</summary>
    private async Task<HttpResponseMessage?> SendTracedAsync(HttpRequestMessage request, string topic, string? traceparent, string? tracestate, string what, string path, CancellationToken ct)
    {
        Trace(request, traceparent, tracestate);
        try
        {
            return await Connection.Client.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            logger.LogWarning("{What} on {Topic} to /{Path} failed: {Error}", what, topic, path.TrimStart('/'), e.Message);
            return null;
        }
    }

    private static void Trace(HttpRequestMessage request, string? traceparent, string? tracestate)
    {
        if (traceparent is not null)
        {
            request.Headers.Remove("traceparent");
            request.Headers.Remove("tracestate");
            request.Headers.TryAddWithoutValidation("traceparent", traceparent);
            if (!string.IsNullOrEmpty(tracestate))
            {
                request.Headers.TryAddWithoutValidation("tracestate", tracestate);
            }
        }
    }

    /// <summary>One POST of a bulk envelope (dapr/dapr <c>postman/http/http.go</c> DeliverBulk).</summary>
    public async Task<Dictionary<string, DeliveryOutcome>> DeliverBulkAsync(BulkDelivery delivery, CancellationToken ct)
    {
        var entries = delivery.Entries;
        var result = new Dictionary<string, DeliveryOutcome>(StringComparer.Ordinal);
        using var lease = await Connection.AcquireAsync(ct);
        using var request = Connection.Request(HttpMethod.Post, delivery.Path);
        request.Content = new ByteArrayContent(BulkEnvelope(delivery.PubSubName, delivery.Topic, entries));
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        request.Headers.TryAddWithoutValidation("pubsubName", delivery.PubSubName);
        if (await SendTracedAsync(request, delivery.Topic, delivery.Traceparent, delivery.Tracestate, $"Bulk delivery of {entries.Count} events", delivery.Path, ct) is not { } response)
        {
            return result;
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                // daprd counts every entry as dropped, without dead-lettering them.
                logger.LogWarning("The app answered 404 for {Topic} at /{Path}: {Count} bulk events dropped", delivery.Topic, delivery.Path.TrimStart('/'), entries.Count);
                foreach (var e in entries)
                {
                    result[e.EntryId] = DeliveryOutcome.Success;
                }

                return result;
            }

            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("The app answered {Status} for {Count} bulk events on {Topic}: will retry", (int)response.StatusCode, entries.Count, delivery.Topic);
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
                            logger.LogWarning("The app answered a status for an unknown entry id on {Topic}", delivery.Topic);
                            continue;
                        }

                        // Exact, as daprd compares them; an empty or unknown status means RETRY.
                        result[id.GetString()!] = (Property(s, "status") is { ValueKind: JsonValueKind.String } st ? st.GetString() : null) switch
                        {
                            "SUCCESS" => DeliveryOutcome.Success,
                            "DROP" => DeliveryOutcome.Drop,
                            _ => DeliveryOutcome.Retry,
                        };
                    }
                }
            }
            catch (JsonException e)
            {
                logger.LogWarning("The app's answer to a bulk delivery on {Topic} is unreadable ({Error}): will retry", delivery.Topic, e.Message);
                return [];
            }

            var retried = entries.Count - result.Values.Count(o => o != DeliveryOutcome.Retry);
            if (retried > 0)
            {
                logger.LogInformation("The app answered RETRY (or nothing) for {Count} of {Total} bulk events on {Topic}", retried, entries.Count, delivery.Topic);
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
    private static byte[] BulkEnvelope(string pubsubName, string topic, IReadOnlyList<BulkEntry> entries)
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
            w.WriteString("pubsubName", pubsubName);
            w.WriteEndObject();
            w.WriteString("pubsubname", pubsubName);
            w.WriteString("topic", topic);
            w.WriteString("type", BulkEventType);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>HTTP apps are asked per binding (<c>OPTIONS /{binding}</c>, daprd's <c>isAppSubscribedToBinding</c>): no list.</summary>
    public Task<IReadOnlyList<string>?> ListInputBindingsAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<string>?>(null);

    /// <summary>
    /// <c>POST /{name}</c> with the event's data and its metadata as headers (dapr/dapr
    /// <c>pkg/runtime/processor/binding/send.go</c> sendBindingEventToApp); a 2xx answer's body comes back as <c>data</c>.
    /// </summary>
    public async Task<BindingEventResponse> DeliverBindingEventAsync(BindingEventRequest request, CancellationToken ct)
    {
        using var lease = await Connection.AcquireAsync(ct);
        using var http = Connection.Request(HttpMethod.Post, "/" + request.Name);
        http.Content = new ByteArrayContent(request.Data.ToByteArray());
        foreach (var (k, v) in request.Metadata)
        {
            if (!http.Headers.TryAddWithoutValidation(k, v))
            {
                http.Content.Headers.TryAddWithoutValidation(k, v);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await Connection.Client.SendAsync(http, ct);
        }
        catch (HttpRequestException e)
        {
            throw new AppCallException($"error invoking app: {e.Message}", inner: e);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new AppCallException($"fails to send binding event to http app channel, status code: {(int)response.StatusCode} body: {System.Text.Encoding.UTF8.GetString(body)}", (int)response.StatusCode);
            }

            return new BindingEventResponse { Data = ByteString.CopyFrom(body) };
        }
    }

    /// <summary>daprd's HTTP health probe: <c>GET /healthz</c> (its default <c>--app-health-check-path</c>), 2xx healthy.</summary>
    public async Task<bool> HealthCheckAsync(CancellationToken ct)
    {
        using var request = Connection.Request(HttpMethod.Get, "/healthz");
        try
        {
            using var response = await Connection.Client.SendAsync(request, ct);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>The connection is the sidecar's to dispose.</summary>
    public void Dispose()
    {
    }
}
