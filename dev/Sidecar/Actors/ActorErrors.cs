using Grpc.Core;
using Platform.Sidecar.Api;

namespace Platform.Sidecar.Actors;

/// <summary>The actor errors daprd reports (dapr/dapr <c>pkg/messages/predefined.go</c>), with its HTTP and gRPC statuses.</summary>
internal static class ActorErrors
{
    public static DaprError RuntimeNotFound() =>
        new("ERR_ACTOR_RUNTIME_NOT_FOUND",
            "the state store is not configured to use the actor runtime. Have you set the - name: actorStateStore value: \"true\" in your state store component file?",
            500, StatusCode.Internal);

    public static DaprError InstanceMissing() =>
        new("ERR_ACTOR_INSTANCE_MISSING", "actor instance is missing", 400, StatusCode.Internal);

    public static DaprError InvokeMethod(string message) =>
        new("ERR_ACTOR_INVOKE_METHOD", $"error invoke actor method: {message}", 500, StatusCode.Internal);

    /// <summary>No live sidecar hosts the actor type (daprd: the placement table has no entry for it).</summary>
    public static DaprError NoAddress(string type, string id) =>
        new("ERR_ACTOR_NO_ADDRESS", $"did not find address for actor '{type}/{id}'", 404, StatusCode.FailedPrecondition);

    public static DaprError ReminderNotFound(string name) =>
        new("ERR_ACTOR_REMINDER_NOT_FOUND", $"actor reminder not found: {name}", 404, StatusCode.NotFound);

    /// <summary>Reminder calls must go to a sidecar whose app hosts the type (daprd <c>ErrReminderOpActorNotHosted</c>).</summary>
    public static DaprError ReminderNonHosted() =>
        new("ERR_ACTOR_REMINDER_NON_HOSTED", "operations on actor reminders are only possible on hosted actor types", 403, StatusCode.PermissionDenied);

    public static DaprError ReminderCreate(string message) =>
        new("ERR_ACTOR_REMINDER_CREATE", $"error creating actor reminder: {message}", 500, StatusCode.Internal);

    public static DaprError TimerCreate(string message) =>
        new("ERR_ACTOR_TIMER_CREATE", $"error creating actor timer: {message}", 500, StatusCode.Internal);

    public static DaprError StackDepth() =>
        new("ERR_ACTOR_STACK_DEPTH", "maximum stack depth exceeded", 500, StatusCode.ResourceExhausted);

    public static DaprError StateGet(string message) =>
        new("ERR_ACTOR_STATE_GET", $"error getting actor state: {message}", 500, StatusCode.Internal);

    public static DaprError StateTransaction(string message) =>
        new("ERR_ACTOR_STATE_TRANSACTION_SAVE", $"error saving actor transaction state: {message}", 500, StatusCode.Internal);
}
