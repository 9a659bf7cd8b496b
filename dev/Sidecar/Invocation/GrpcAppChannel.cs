using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.PubSub;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The app channel over gRPC (<c>--app-protocol grpc</c>): the sidecar is a client of the app's
/// <c>dapr.proto.runtime.v1.AppCallback</c> (and <c>AppCallbackAlpha</c>, <c>AppCallbackHealthCheck</c>) over HTTP/2
/// without TLS, as daprd's <c>pkg/channel/grpc/grpc_channel.go</c> and <c>pkg/runtime/subscription/postman/grpc/grpc.go</c>.
/// <c>Dapr.Protos</c> has only the server side of these services, so the client methods are declared here. Every
/// call carries <c>dapr-api-token</c> when an app token is set, and runs under <c>--app-max-concurrency</c>.
/// </summary>
public sealed class GrpcAppChannel : IAppChannel
{
    private const string Callback = "dapr.proto.runtime.v1.AppCallback";
    private const string CallbackAlpha = "dapr.proto.runtime.v1.AppCallbackAlpha";
    private const string CallbackHealth = "dapr.proto.runtime.v1.AppCallbackHealthCheck";
    private const string BulkEventType = "com.dapr.event.sent.bulk";

    private static readonly Method<InvokeRequest, InvokeResponse> OnInvoke = Unary<InvokeRequest, InvokeResponse>(Callback, "OnInvoke");
    private static readonly Method<Empty, ListTopicSubscriptionsResponse> ListTopicSubscriptions = Unary<Empty, ListTopicSubscriptionsResponse>(Callback, "ListTopicSubscriptions");
    private static readonly Method<TopicEventRequest, TopicEventResponse> OnTopicEvent = Unary<TopicEventRequest, TopicEventResponse>(Callback, "OnTopicEvent");
    private static readonly Method<TopicEventBulkRequest, TopicEventBulkResponse> OnBulkTopicEvent = Unary<TopicEventBulkRequest, TopicEventBulkResponse>(Callback, "OnBulkTopicEvent");
    private static readonly Method<TopicEventBulkRequest, TopicEventBulkResponse> OnBulkTopicEventAlpha1 = Unary<TopicEventBulkRequest, TopicEventBulkResponse>(CallbackAlpha, "OnBulkTopicEventAlpha1");
    private static readonly Method<Empty, ListInputBindingsResponse> ListInputBindings = Unary<Empty, ListInputBindingsResponse>(Callback, "ListInputBindings");
    private static readonly Method<BindingEventRequest, BindingEventResponse> OnBindingEvent = Unary<BindingEventRequest, BindingEventResponse>(Callback, "OnBindingEvent");
    private static readonly Method<Empty, HealthCheckResponse> HealthCheck = Unary<Empty, HealthCheckResponse>(CallbackHealth, "HealthCheck");

    /// <summary>
    /// The IANA permanent HTTP headers, which daprd passes to a gRPC app with a <c>dapr-</c> prefix
    /// (dapr/dapr <c>pkg/messaging/v1/util.go</c> isPermanentHTTPHeader, InternalMetadataToGrpcMetadata).
    /// </summary>
    private static readonly HashSet<string> PermanentHttpHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Accept", "Accept-Charset", "Accept-Language", "Accept-Ranges", "Connection", "Keep-Alive", "Proxy-Connection",
        "Transfer-Encoding", "Upgrade", "Cache-Control", "Content-Type", "Content-Length", "Cookie", "Date", "Expect",
        "From", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Schedule-Tag-Match", "If-Unmodified-Since",
        "Max-Forwards", "Origin", "Pragma", "Referer", "Via", "Warning",
    };

    private static readonly JsonWriterOptions GoJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonFormatter StatusJson = new(JsonFormatter.Settings.Default.WithTypeRegistry(Google.Protobuf.Reflection.TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor)));

    private readonly string _appId;
    private readonly bool _hasApiToken;
    private readonly ILogger _logger;
    private readonly GrpcChannel? _channel;
    private readonly CallInvoker? _calls;

    /// <param name="connection">the app's address, cap and token</param>
    /// <param name="appId">this sidecar's app-id</param>
    /// <param name="hasApiToken">whether the sidecar has an API token (the caller's <c>dapr-api-token</c> then stays behind)</param>
    /// <param name="maxMessageSize"><c>--max-body-size</c>: the largest message sent to or taken from the app</param>
    /// <param name="logger">where to log</param>
    public GrpcAppChannel(AppChannel connection, string appId, bool hasApiToken, long maxMessageSize, ILogger logger)
    {
        Connection = connection;
        _appId = appId;
        _hasApiToken = hasApiToken;
        _logger = logger;
        if (connection.BaseAddress is { } address)
        {
            var max = (int)Math.Min(maxMessageSize, int.MaxValue);
            _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler
                {
                    UseProxy = false,
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    UseCookies = false,
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                    EnableMultipleHttp2Connections = true,
                },
                DisposeHttpClient = true,
                MaxReceiveMessageSize = max,
                MaxSendMessageSize = max,
            });
            _calls = _channel.CreateCallInvoker();
        }
    }

    public AppChannel Connection { get; }

    public AppProtocol Protocol => AppProtocol.Grpc;

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var requests = new MessageParser<TRequest>(() => new TRequest());
        var responses = new MessageParser<TResponse>(() => new TResponse());
        return new Method<TRequest, TResponse>(MethodType.Unary, service, name,
            Marshallers.Create(r => r.ToByteArray(), requests.ParseFrom),
            Marshallers.Create(r => r.ToByteArray(), responses.ParseFrom));
    }

    /// <summary>One unary call: under the concurrency cap (unless <paramref name="capped"/> is false), with the app token.</summary>
    private async Task<TResponse> CallAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, Metadata headers, CancellationToken ct, bool capped = true)
        where TRequest : class
        where TResponse : class
    {
        var calls = _calls ?? throw new InvalidOperationException("the sidecar was started without --app-port");
        if (Connection.AppApiToken is { } token)
        {
            // daprd: the app token as dapr-api-token metadata (grpc_channel.go AddAppTokenToContext).
            headers.Add("dapr-api-token", token);
        }

        using var lease = capped ? await Connection.AcquireAsync(ct) : null;
        using var call = calls.AsyncUnaryCall(method, null, new CallOptions(headers, cancellationToken: ct), request);
        return await call.ResponseAsync;
    }

    // ---- invocation ----

    /// <summary>
    /// <c>OnInvoke</c> with the method, the data as <c>Any</c>, the content type and the HTTP verb and query string
    /// (grpc_channel.go invokeMethodV1); the caller's headers go as metadata, daprd's way. The answer becomes an HTTP
    /// response: 200 with the data and content type, or, for a gRPC error, daprd's HTTP status for the code
    /// (util.go HTTPStatusFromCode) with the status as JSON (directmessaging.go); the gRPC status itself travels in
    /// <see cref="AppChannelHeaders"/> for a gRPC caller.
    /// </summary>
    public async Task<InvocationResult> InvokeMethodAsync(OutboundCall call, CancellationToken ct)
    {
        string? Header(string name) => call.Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

        var request = new InvokeRequest
        {
            Method = call.Path,
            ContentType = Header("content-type") ?? "",
            Data = new Any { TypeUrl = Header(AppChannelHeaders.DataTypeUrl) ?? "", Value = ByteString.CopyFrom(call.Body) },
        };
        if (Header(AppChannelHeaders.NoVerb) is null)
        {
            request.HttpExtension = new HTTPExtension
            {
                Verb = System.Enum.TryParse<HTTPExtension.Types.Verb>(call.Method, ignoreCase: true, out var verb) ? verb : HTTPExtension.Types.Verb.None,
                Querystring = call.Query.StartsWith('?') ? call.Query[1..] : call.Query,
            };
        }

        var metadata = new Metadata();
        foreach (var (name, values) in call.Headers)
        {
            var key = name.ToLowerInvariant();
            if (Invoker.IsDropped(name) || AppChannelHeaders.IsPrivate(key) || key is "traceparent" or "tracestate" or "grpc-trace-bin" or "destination-app-id" or "user-agent"
                || (key == "dapr-api-token" && (_hasApiToken || Connection.AppApiToken is not null)))
            {
                continue;
            }

            if (PermanentHttpHeaders.Contains(name) || key.StartsWith("grpc-", StringComparison.Ordinal))
            {
                key = "dapr-" + key;
            }

            foreach (var value in values)
            {
                AddMetadata(metadata, key, value);
            }
        }

        metadata.Add("dapr-caller-app-id", call.CallerAppId ?? _appId);
        metadata.Add("dapr-callee-app-id", _appId);
        AddTrace(metadata, call.Traceparent, call.Tracestate);
        try
        {
            var answer = await CallAsync(OnInvoke, request, metadata, ct);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(answer.Data?.Value.ToByteArray() ?? []) };
            if (answer.ContentType.Length > 0)
            {
                response.Content.Headers.TryAddWithoutValidation("Content-Type", answer.ContentType);
            }

            response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcStatus, "0");
            if (answer.Data is { TypeUrl.Length: > 0 } data)
            {
                response.Headers.TryAddWithoutValidation(AppChannelHeaders.DataTypeUrl, data.TypeUrl);
            }

            return new InvocationResult(response, NoLease.Instance);
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            // An unreachable app is an error status too (Unavailable), as from grpc-go in daprd.
            return new InvocationResult(ErrorResponse(e), NoLease.Instance);
        }
    }

    private static HttpResponseMessage ErrorResponse(RpcException e)
    {
        var details = e.Trailers.GetValueBytes("grpc-status-details-bin");
        var status = new Google.Rpc.Status { Code = (int)e.StatusCode, Message = e.Status.Detail ?? "" };
        if (details is not null)
        {
            try
            {
                status.Details.AddRange(Google.Rpc.Status.Parser.ParseFrom(details).Details);
            }
            catch (InvalidProtocolBufferException)
            {
                details = null;
            }
        }

        string json;
        try
        {
            json = StatusJson.Format(status);
        }
        catch (InvalidOperationException)
        {
            // A detail of a type the registry does not know: the status without its details.
            status.Details.Clear();
            json = StatusJson.Format(status);
        }

        var response = new HttpResponseMessage((HttpStatusCode)HttpStatusFromCode(e.StatusCode))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcStatus, ((int)e.StatusCode).ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcMessage, Uri.EscapeDataString(e.Status.Detail ?? ""));
        if (details is not null)
        {
            response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcDetails, Convert.ToBase64String(details));
        }

        return response;
    }

    /// <summary>daprd's HTTP status for a gRPC code (dapr/dapr <c>pkg/messaging/v1/util.go</c> HTTPStatusFromCode).</summary>
    public static int HttpStatusFromCode(StatusCode code) => code switch
    {
        StatusCode.OK => 200,
        StatusCode.Cancelled => 408,
        StatusCode.Unknown => 500,
        StatusCode.InvalidArgument => 400,
        StatusCode.DeadlineExceeded => 504,
        StatusCode.NotFound => 404,
        StatusCode.AlreadyExists => 409,
        StatusCode.PermissionDenied => 403,
        StatusCode.Unauthenticated => 401,
        StatusCode.ResourceExhausted => 429,
        StatusCode.FailedPrecondition => 400,
        StatusCode.Aborted => 409,
        StatusCode.OutOfRange => 400,
        StatusCode.Unimplemented => 501,
        StatusCode.Internal => 500,
        StatusCode.Unavailable => 503,
        StatusCode.DataLoss => 500,
        _ => 500,
    };

    // ---- subscriptions ----

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
            FillCloudEvent(delivery.CloudEvent, out var id, out var source, out var type, out var specVersion, out var contentType, out var data, out var extensions);
            (request.Id, request.Source, request.Type, request.SpecVersion, request.DataContentType, request.Data, request.Extensions) =
                (id, source, type, specVersion, contentType, data, extensions);
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
                    FillCloudEvent(ce, out var id, out var source, out var type, out var specVersion, out var contentType, out var data, out var extensions);
                    item.CloudEvent = new TopicEventCERequest
                    {
                        Id = id, Source = source, Type = type, SpecVersion = specVersion, DataContentType = contentType, Data = data, Extensions = extensions,
                    };
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
    /// The CloudEvent's fields as daprd fills <c>TopicEventRequest</c> / <c>TopicEventCERequest</c> (dapr/dapr
    /// <c>pkg/runtime/pubsub/subscriptions.go</c> GRPCEnvelopeFromSubscriptionMessage, extractCloudEvent): string
    /// attributes only; <c>data_base64</c> decoded; <c>data</c> as UTF-8 for a text or XML content type, as JSON (Go's
    /// encoding: keys sorted) for a JSON or CloudEvents one, else nothing; every other attribute in <c>extensions</c>.
    /// Throws <see cref="FormatException"/> where daprd fails the delivery (retriable).
    /// </summary>
    private static void FillCloudEvent(JsonElement ce, out string id, out string source, out string type, out string specVersion, out string contentType, out ByteString data, out Struct extensions)
    {
        if (ce.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("not a CloudEvent");
        }

        string Text(string name) => ce.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        id = Text("id");
        source = Text("source");
        type = Text("type");
        specVersion = Text("specversion");
        contentType = Text("datacontenttype");
        data = ByteString.Empty;
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

        extensions = new Struct();
        foreach (var p in ce.EnumerateObject())
        {
            if (p.Name is not ("id" or "source" or "datacontenttype" or "type" or "specversion" or "data" or "data_base64"))
            {
                extensions.Fields[p.Name] = ToValue(p.Value);
            }
        }
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

    /// <summary>Adds an entry if gRPC can carry it (a valid key; a printable ASCII value, or base64 for a <c>-bin</c> key).</summary>
    private static void AddMetadata(Metadata metadata, string key, string value)
    {
        if (key.Length == 0 || !key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'))
        {
            return;
        }

        if (key.EndsWith("-bin", StringComparison.Ordinal))
        {
            try
            {
                metadata.Add(key, Convert.FromBase64String(value));
            }
            catch (FormatException)
            {
                // daprd skips a binary value it cannot decode.
            }

            return;
        }

        if (value.All(c => c is >= ' ' and <= '~'))
        {
            metadata.Add(key, value);
        }
    }

    /// <summary>
    /// The trace context as daprd sends it to a gRPC app: W3C <c>traceparent</c>/<c>tracestate</c> and the binary
    /// <c>grpc-trace-bin</c> (dapr/dapr <c>pkg/diagnostics/grpc_tracing.go</c> SpanContextToGRPCMetadata).
    /// </summary>
    private static void AddTrace(Metadata metadata, string? traceparent, string? tracestate)
    {
        if (traceparent is null)
        {
            return;
        }

        metadata.Add("traceparent", traceparent);
        if (!string.IsNullOrEmpty(tracestate))
        {
            metadata.Add("tracestate", tracestate);
        }

        if (TraceBin(traceparent) is { } bin)
        {
            metadata.Add("grpc-trace-bin", bin);
        }
    }

    /// <summary>The OpenCensus binary trace context: version 0, field 0 trace id, field 1 span id, field 2 options.</summary>
    internal static byte[]? TraceBin(string traceparent)
    {
        var parts = traceparent.Split('-');
        if (parts.Length < 4 || parts[1].Length != 32 || parts[2].Length != 16 || parts[3].Length != 2)
        {
            return null;
        }

        try
        {
            var bin = new byte[29];
            bin[1] = 0;
            Convert.FromHexString(parts[1]).CopyTo(bin, 2);
            bin[18] = 1;
            Convert.FromHexString(parts[2]).CopyTo(bin, 19);
            bin[27] = 2;
            bin[28] = Convert.FromHexString(parts[3])[0];
            return bin;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    // ---- bindings (for the input bindings work) and health ----

    /// <summary><c>ListInputBindings</c>; Unimplemented means none.</summary>
    public async Task<IReadOnlyList<string>?> ListInputBindingsAsync(CancellationToken ct)
    {
        try
        {
            var response = await CallAsync(ListInputBindings, new Empty(), new Metadata(), ct);
            return [.. response.Bindings];
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            return [];
        }
    }

    /// <summary>
    /// <c>OnBindingEvent</c>, the event's metadata also as gRPC metadata (dapr/dapr
    /// <c>pkg/runtime/processor/binding/send.go</c>); a gRPC error becomes an <see cref="AppCallException"/>.
    /// </summary>
    public async Task<BindingEventResponse> DeliverBindingEventAsync(BindingEventRequest request, CancellationToken ct)
    {
        var metadata = new Metadata();
        foreach (var (k, v) in request.Metadata)
        {
            AddMetadata(metadata, k.ToLowerInvariant(), v);
        }

        try
        {
            return await CallAsync(OnBindingEvent, request, metadata, ct);
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            throw new AppCallException($"error invoking app: {e.Status.Detail}", HttpStatusFromCode(e.StatusCode), e.StatusCode, e);
        }
    }

    /// <summary><c>AppCallbackHealthCheck.HealthCheck</c> (grpc_channel.go HealthProbe); any error is unhealthy. Not under the cap, as in daprd.</summary>
    public async Task<bool> HealthCheckAsync(CancellationToken ct)
    {
        try
        {
            await CallAsync(HealthCheck, new Empty(), new Metadata(), ct, capped: false);
            return true;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    public void Dispose() => _channel?.Dispose();

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }
}
