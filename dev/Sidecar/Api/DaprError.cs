using System.Text.Json.Serialization;
using Grpc.Core;

namespace Platform.Sidecar.Api;

/// <summary>
/// An error the sidecar itself reports, with daprd's error code and the HTTP and gRPC statuses daprd uses for
/// it (dapr/dapr <c>pkg/messages/predefined.go</c>, <c>pkg/api/errors</c>). The HTTP API writes it as
/// <c>{"errorCode","message"}</c>; the gRPC API as a status with that message.
/// </summary>
public sealed class DaprError(string errorCode, string message, int httpStatus, StatusCode grpcStatus, string? reason = null)
    : Exception(message)
{
    /// <summary>daprd's error code, e.g. <c>ERR_STATE_STORE_NOT_FOUND</c>.</summary>
    public string ErrorCode { get; } = errorCode;

    /// <summary>HTTP status for the HTTP API.</summary>
    public int HttpStatus { get; } = httpStatus;

    /// <summary>Status code for the gRPC API.</summary>
    public StatusCode GrpcStatus { get; } = grpcStatus;

    /// <summary>The rich error's <c>ErrorInfo.reason</c> (e.g. <c>DAPR_STATE_NOT_FOUND</c>), when daprd sends one.</summary>
    public string? Reason { get; } = reason;

    internal ErrorBody Body => new(ErrorCode, Message);

    public static DaprError StateStoreNotFound(string name) =>
        new("ERR_STATE_STORE_NOT_FOUND", $"state store {name} is not found", 400, StatusCode.InvalidArgument, "DAPR_STATE_NOT_FOUND");

    public static DaprError StateStoreNotConfigured() =>
        new("ERR_STATE_STORE_NOT_CONFIGURED", "state store is not configured", 500, StatusCode.FailedPrecondition, "DAPR_STATE_NOT_CONFIGURED");

    public static DaprError IllegalKey(string key) =>
        new("ERR_MALFORMED_REQUEST", $"input key/keyPrefix '{key}' can't contain '||'", 400, StatusCode.InvalidArgument, "DAPR_STATE_ILLEGAL_KEY");

    public static DaprError ETagMismatch(string op, string key, string detail) =>
        new(op, $"failed {(op == "ERR_STATE_DELETE" ? "deleting" : "saving")} state with key {key}: possible etag mismatch. error from state store: {detail}", 409, StatusCode.Aborted, "DAPR_STATE_ETAG_MISMATCH");

    public static DaprError ETagInvalid(string op, string key) =>
        new(op, $"failed {(op == "ERR_STATE_DELETE" ? "deleting" : "saving")} state with key {key}: invalid etag value", 400, StatusCode.InvalidArgument, "DAPR_STATE_ETAG_INVALID");

    public static DaprError PubSubNotFound(string name) =>
        new("ERR_PUBSUB_NOT_FOUND", $"pubsub {name} not found", 404, StatusCode.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND");

    public static DaprError PubSubNotConfigured() =>
        new("ERR_PUBSUB_NOT_CONFIGURED", "no pubsub is configured", 400, StatusCode.FailedPrecondition, "DAPR_PUBSUB_NOT_CONFIGURED");

    public static DaprError TopicEmpty(string pubsub) =>
        new("ERR_TOPIC_NAME_EMPTY", $"topic is empty in pubsub {pubsub}", 404, StatusCode.InvalidArgument, "DAPR_PUBSUB_TOPIC_NAME_EMPTY");

    public static DaprError PubSubEmpty() =>
        new("ERR_PUBSUB_EMPTY", "pubsub name is empty", 404, StatusCode.InvalidArgument, "DAPR_PUBSUB_NAME_EMPTY");

    /// <summary>daprd's <c>PubSubTopicError.MarshalEvents</c>: a bulk request whose entries cannot be taken as they are.</summary>
    public static DaprError EventsSer(string pubsub, string topic, string detail) =>
        new("ERR_PUBSUB_EVENTS_SER", $"error marshaling events to bytes for topic {topic} pubsub {pubsub}. error: {detail}", 400, StatusCode.InvalidArgument, "DAPR_PUBSUB_MARSHAL_EVENTS");

    public static DaprError Malformed(string message) =>
        new("ERR_MALFORMED_REQUEST", message, 400, StatusCode.InvalidArgument);

    public static DaprError SecretStoresNotConfigured() =>
        new("ERR_SECRET_STORES_NOT_CONFIGURED", "secret store is not configured", 500, StatusCode.FailedPrecondition);

    /// <summary>The store failed to get a secret (predefined.go <c>ErrSecretGet</c>).</summary>
    public static DaprError SecretGet(string key, string store, string detail) =>
        new("ERR_SECRET_GET", $"failed getting secret with key {key} from secret store {store}: {detail}", 500, StatusCode.Internal);

    public static DaprError SecretStoreNotFound(string name) =>
        new("ERR_SECRET_STORE_NOT_FOUND", $"failed finding secret store with key {name}", 401, StatusCode.InvalidArgument);

    /// <summary>A secret the Configuration's secret scopes keep from the app (predefined.go <c>ErrSecretPermissionDenied</c>).</summary>
    public static DaprError SecretPermissionDenied(string key, string store) =>
        new("ERR_PERMISSION_DENIED", $"access denied by policy to get \"{key}\" from \"{store}\"", 403, StatusCode.PermissionDenied);

    public static DaprError DirectInvoke(string message, int httpStatus = 500, StatusCode grpc = StatusCode.Internal) =>
        new("ERR_DIRECT_INVOKE", message, httpStatus, grpc);

    public static DaprError NotReady() =>
        new("ERR_HEALTH_NOT_READY", "dapr is not ready", 500, StatusCode.Internal);
}

internal sealed record ErrorBody(
    [property: JsonPropertyName("errorCode")] string ErrorCode,
    [property: JsonPropertyName("message")] string Message);
