using System.Text.Json;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Platform.Sidecar.PubSub;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The operations the sidecar performs on its app, whatever the app protocol (daprd's <c>channel.AppChannel</c> and
/// its subscription postmen, dapr/dapr <c>pkg/channel</c> and <c>pkg/runtime/subscription/postman</c>): invocation,
/// event delivery (one and bulk), subscription discovery, and for the bindings work input binding events. One
/// implementation per protocol: <see cref="HttpAppChannel"/> (http, h2c) and <see cref="GrpcAppChannel"/> (grpc). Every
/// call runs under <c>--app-max-concurrency</c> (the <see cref="AppChannel.AcquireAsync"/> of <see cref="Connection"/>).
/// </summary>
public interface IAppChannel : IDisposable
{
    /// <summary>The app's address, concurrency cap and token, shared by every protocol (and by the actor runtime).</summary>
    AppChannel Connection { get; }

    AppProtocol Protocol { get; }

    /// <summary>
    /// Calls a method of the app (a service invocation that arrived for this sidecar's app). The answer comes back as
    /// an HTTP response, as the sidecars forward it to each other; a gRPC app's status travels in
    /// <see cref="AppChannelHeaders"/>. Throws <see cref="Api.DaprError"/> when the app cannot be reached over HTTP.
    /// </summary>
    Task<InvocationResult> InvokeMethodAsync(OutboundCall call, CancellationToken ct);

    /// <summary>The app's programmatic subscriptions (HTTP <c>GET /dapr/subscribe</c>, gRPC <c>ListTopicSubscriptions</c>); none when the app has none or fails.</summary>
    Task<List<SubscriptionSpec>> ListSubscriptionsAsync(CancellationToken ct);

    /// <summary>Delivers one event and says what the app made of it (failures to reach the app are <see cref="DeliveryOutcome.Retry"/>).</summary>
    Task<DeliveryOutcome> DeliverEventAsync(EventDelivery delivery, CancellationToken ct);

    /// <summary>Delivers the entries of one path in one call; the outcome of each entry by entry id (an entry not in the result failed).</summary>
    Task<Dictionary<string, DeliveryOutcome>> DeliverBulkAsync(BulkDelivery delivery, CancellationToken ct);

    /// <summary>
    /// The input bindings the app asks for: a gRPC app answers <c>ListInputBindings</c> (Unimplemented: none); null
    /// over HTTP, where daprd asks per binding (<c>OPTIONS /{binding}</c>) instead.
    /// </summary>
    Task<IReadOnlyList<string>?> ListInputBindingsAsync(CancellationToken ct);

    /// <summary>
    /// Delivers one input binding event (gRPC <c>OnBindingEvent</c>; HTTP <c>POST /{name}</c> with the metadata as
    /// headers, the answer's body as <c>data</c>). Throws <see cref="AppCallException"/> when the app fails it.
    /// </summary>
    Task<BindingEventResponse> DeliverBindingEventAsync(BindingEventRequest request, CancellationToken ct);

    /// <summary>Probes the app (gRPC <c>AppCallbackHealthCheck.HealthCheck</c>, HTTP <c>GET /healthz</c>, as daprd's health probes).</summary>
    Task<bool> HealthCheckAsync(CancellationToken ct);
}

/// <summary>What the app made of a delivered event.</summary>
public enum DeliveryOutcome
{
    /// <summary>Done (also: the app does not handle it at all and daprd acks it).</summary>
    Success,

    /// <summary>Try again per the retry policy, then dead-letter or leave it with the broker.</summary>
    Retry,

    /// <summary>Dead-letter if a topic is set, else drop.</summary>
    Drop,
}

/// <summary>One event for the app.</summary>
/// <param name="PubSubName">the component</param>
/// <param name="Topic">the subscribed topic</param>
/// <param name="Path">the route the rules chose (over gRPC, <c>TopicEventRequest.path</c>)</param>
/// <param name="Envelope">the CloudEvent as sent over HTTP</param>
/// <param name="CloudEvent">the same, parsed</param>
/// <param name="Message">the broker's message (its metadata goes as headers / gRPC metadata)</param>
/// <param name="Traceparent">the delivery span's context</param>
/// <param name="Tracestate">its tracestate, if any</param>
public readonly record struct EventDelivery(string PubSubName, string Topic, string Path, byte[] Envelope, JsonElement CloudEvent, BrokerMessage Message, string Traceparent, string? Tracestate);

/// <summary>The entries of one bulk delivery that share a path.</summary>
public readonly record struct BulkDelivery(string PubSubName, string Topic, string Path, IReadOnlyList<BulkEntry> Entries, string? Traceparent, string? Tracestate);

/// <summary>An app's failure of a call it answered (HTTP status or gRPC status).</summary>
public sealed class AppCallException(string message, int? httpStatus = null, Grpc.Core.StatusCode? grpcStatus = null, Exception? inner = null) : Exception(message, inner)
{
    public int? HttpStatus { get; } = httpStatus;

    public Grpc.Core.StatusCode? GrpcStatus { get; } = grpcStatus;
}

/// <summary>
/// Private headers on the hop between two sidecars (never shown to an app or a caller): a gRPC app's status and
/// the <c>Any</c> type URL of the data, which a gRPC caller's <c>InvokeService</c> hands back as daprd does.
/// </summary>
public static class AppChannelHeaders
{
    private const string Prefix = "x-platform-sidecar-";

    /// <summary>The gRPC status code of a gRPC app's answer (0 for OK).</summary>
    public const string GrpcStatus = Prefix + "grpc-status";

    /// <summary>Its message, percent-encoded.</summary>
    public const string GrpcMessage = Prefix + "grpc-message";

    /// <summary>Its <c>grpc-status-details-bin</c> (a <c>google.rpc.Status</c>), base64.</summary>
    public const string GrpcDetails = Prefix + "grpc-status-details";

    /// <summary>The type URL of the invocation's data (<c>InvokeRequest.data</c> / <c>InvokeResponse.data</c>).</summary>
    public const string DataTypeUrl = Prefix + "data-type-url";

    /// <summary>Set when a gRPC caller's <c>InvokeRequest</c> had no <c>http_extension</c> (a gRPC app then gets none either).</summary>
    public const string NoVerb = Prefix + "no-verb";

    /// <summary>True for the sidecars' own headers.</summary>
    public static bool IsPrivate(string name) => name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);
}
