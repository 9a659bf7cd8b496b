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

    public static DaprError InstanceMissing(string type, string id) =>
        new("ERR_ACTOR_INSTANCE_MISSING", $"actor instance is missing: {type}/{id} is not active on this host", 400, StatusCode.Internal);

    public static DaprError InvokeMethod(string message) =>
        new("ERR_ACTOR_INVOKE_METHOD", $"error invoking actor method: {message}", 500, StatusCode.Internal);

    public static DaprError ReminderNotFound(string type, string id, string name) =>
        new("ERR_ACTOR_REMINDER_NOT_FOUND", $"reminder {name} not found for actor {type}/{id}", 404, StatusCode.NotFound);

    public static DaprError ReminderCreate(string message) =>
        new("ERR_ACTOR_REMINDER_CREATE", $"error creating actor reminder: {message}", 500, StatusCode.Internal);

    public static DaprError TimerCreate(string message) =>
        new("ERR_ACTOR_TIMER_CREATE", $"error creating actor timer: {message}", 500, StatusCode.Internal);

    public static DaprError StackDepth(int max) =>
        new("ERR_ACTOR_STACK_DEPTH", $"maximum stack depth of {max} exceeded for reentrant actor call", 500, StatusCode.ResourceExhausted);

    public static DaprError StateGet(string message) =>
        new("ERR_ACTOR_STATE_GET", $"error getting actor state: {message}", 500, StatusCode.Internal);

    public static DaprError StateTransaction(string message) =>
        new("ERR_ACTOR_STATE_TRANSACTION_SAVE", $"error saving actor transaction state: {message}", 500, StatusCode.Internal);
}
