using Grpc.Core;
using Platform.Sidecar.Api;

namespace Platform.Sidecar.Workflows;

/// <summary>
/// daprd's workflow API errors (dapr/dapr <c>pkg/messages/predefined.go</c>, codes in
/// <c>pkg/messages/errorcodes/errorcodes.go</c>), raised by the universal operations
/// (<c>pkg/api/universal/workflow.go</c>) that the HTTP routes and the Dapr gRPC <c>…WorkflowBeta1</c> methods share.
/// </summary>
internal static class WorkflowErrors
{
    /// <summary>daprd's <c>validateInstanceID</c>: longer ids are refused on create.</summary>
    public const int MaxInstanceIdLength = 64;

    public static DaprError NameMissing() =>
        new("ERR_WORKFLOW_NAME_MISSING", "workflow name is not configured", 400, StatusCode.InvalidArgument);

    public static DaprError InstanceIdMissing() =>
        new("ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided", 400, StatusCode.InvalidArgument);

    public static DaprError InstanceIdTooLong() =>
        new("ERR_INSTANCE_ID_TOO_LONG", $"workflow instance ID exceeds the max length of {MaxInstanceIdLength} characters", 400, StatusCode.InvalidArgument);

    public static DaprError InstanceIdInvalid(string id) =>
        new("ERR_INSTANCE_ID_INVALID", $"workflow instance ID '{id}' is invalid: only alphanumeric and underscore characters are allowed", 400, StatusCode.InvalidArgument);

    public static DaprError InstanceNotFound(string id) =>
        new("ERR_INSTANCE_ID_NOT_FOUND", $"unable to find workflow with the provided instance ID: {id}", 404, StatusCode.NotFound);

    public static DaprError EventNameMissing() =>
        new("ERR_WORKFLOW_EVENT_NAME_MISSING", "missing workflow event name", 400, StatusCode.InvalidArgument);

    public static DaprError AppIdInvalid(string appId) =>
        new("ERR_WORKFLOW_APP_ID_INVALID", $"workflow app ID '{appId}' is invalid: only alphanumeric, dash and underscore characters are allowed", 400, StatusCode.InvalidArgument);

    public static DaprError Start(string name, string detail) =>
        new("ERR_START_WORKFLOW", $"error starting workflow '{name}': {detail}", 500, StatusCode.Internal);

    public static DaprError Get(string id, string detail) =>
        new("ERR_GET_WORKFLOW", $"error while getting workflow info on instance '{id}': {detail}", 500, StatusCode.Internal);

    public static DaprError RaiseEvent(string id, string detail) =>
        new("ERR_RAISE_EVENT_WORKFLOW", $"error raising event on workflow '{id}': {detail}", 500, StatusCode.Internal);

    public static DaprError Terminate(string id, string detail) =>
        new("ERR_TERMINATE_WORKFLOW", $"error terminating workflow '{id}': {detail}", 500, StatusCode.Internal);

    public static DaprError Pause(string id, string detail) =>
        new("ERR_PAUSE_WORKFLOW", $"error pausing workflow {id}: {detail}", 500, StatusCode.Internal);

    public static DaprError Resume(string id, string detail) =>
        new("ERR_RESUME_WORKFLOW", $"error resuming workflow {id}: {detail}", 500, StatusCode.Internal);

    public static DaprError Purge(string id, string detail) =>
        new("ERR_PURGE_WORKFLOW", $"error purging workflow {id}: {detail}", 500, StatusCode.Internal);

    /// <summary>daprd with no actor state store: workflows run on actors, so the actor runtime is missing.</summary>
    public static DaprError NoStateStore() => Actors.ActorErrors.RuntimeNotFound();
}

/// <summary>durabletask-go's <c>api.ErrInstanceNotFound</c>: the engine's "no such instance", translated by each API.</summary>
internal sealed class WorkflowNotFoundException() : Exception("no such instance exists");

/// <summary>durabletask-go's <c>api.ErrNotCompleted</c> (purge of a running instance) and other refusals of the engine.</summary>
internal sealed class WorkflowStateException(string message) : Exception(message);
