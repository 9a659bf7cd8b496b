using System.Globalization;
using System.Text.Json;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Actors;
using Platform.Sidecar.State;

namespace Platform.Sidecar.Api;

/// <summary>
/// The actor API over gRPC, as the JS SDK's <c>ActorClientGRPC</c> calls it (dapr/dapr <c>pkg/api/grpc/grpc.go</c>
/// and <c>pkg/api/universal/actors.go</c>): the operations of <see cref="ActorOperations"/> and the state calls of
/// <see cref="ActorService"/>, translated. A call for an actor another sidecar owns is forwarded to it in its HTTP
/// form, so the owner runs the same code whichever API the caller used.
/// </summary>
public partial class DaprGrpcService
{
    static partial void BindActors(ServiceBinderBase binder)
    {
        Add<InvokeActorRequest, InvokeActorResponse>(binder, nameof(InvokeActor));
        Add<GetActorStateRequest, GetActorStateResponse>(binder, nameof(GetActorState));
        Add<ExecuteActorStateTransactionRequest, Empty>(binder, nameof(ExecuteActorStateTransaction));
        Add<RegisterActorReminderRequest, Empty>(binder, nameof(RegisterActorReminder));
        Add<UnregisterActorReminderRequest, Empty>(binder, nameof(UnregisterActorReminder));
        Add<RegisterActorTimerRequest, Empty>(binder, nameof(RegisterActorTimer));
        Add<UnregisterActorTimerRequest, Empty>(binder, nameof(UnregisterActorTimer));
    }

    public virtual async Task<InvokeActorResponse> InvokeActor(InvokeActorRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        if (string.IsNullOrEmpty(request.Method))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "invalid actor method: method name is empty"));
        }

        var headers = ActorHeaders(context);
        headers.AddRange(request.Metadata.Select(m => new KeyValuePair<string, string[]>(m.Key, [m.Value])));
        if (request.Data.Length > 0)
        {
            headers.Add(new("Content-Type", ["application/json"]));
        }

        var call = ActorCall.Of(request.ActorType, request.ActorId, "PUT", "method/" + Uri.EscapeDataString(request.Method), request.Data.ToByteArray(), headers);
        var reentrancy = headers.FirstOrDefault(h => h.Key.Equals(ActorService.ReentrancyHeader, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
        var response = await ActorOperations.InvokeAsync(rt, call, request.Method, reentrancy, ActorLogger(context), context.CancellationToken);
        return new InvokeActorResponse { Data = ByteString.CopyFrom(response.Body) };
    }

    public virtual async Task<GetActorStateResponse> GetActorState(GetActorStateRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        var item = await rt.Actors.GetStateAsync(request.ActorType, request.ActorId, request.Key, context.CancellationToken);
        var response = new GetActorStateResponse { Data = item is null ? ByteString.Empty : ByteString.CopyFrom(item.Data.Span) };
        if (item?.ExpiresAt is { } at)
        {
            response.Metadata["ttlExpireTime"] = at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }

        return response;
    }

    /// <summary>An upsert stores the operation's <c>value.value</c> bytes as they are (daprd takes the <c>Any</c>'s bytes); <c>metadata</c> may carry <c>ttlInSeconds</c>.</summary>
    public virtual async Task<Empty> ExecuteActorStateTransaction(ExecuteActorStateTransactionRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        var ops = new List<StateOperation>();
        foreach (var op in request.Operations)
        {
            if (string.IsNullOrEmpty(op.Key))
            {
                throw DaprError.Malformed("an actor state operation needs a key");
            }

            ops.Add(op.OperationType switch
            {
                "upsert" => new Upsert(op.Key, op.Value?.Value.ToByteArray() ?? [], null, Concurrency.LastWrite,
                    StateService.ParseTtl(op.Metadata.Count > 0 ? op.Metadata.ToDictionary(m => m.Key, m => m.Value) : null)),
                "delete" => new Delete(op.Key, null, Concurrency.LastWrite),
                // daprd: apierrors.Basic(codes.Unimplemented, 500, ERR_NOT_SUPPORTED_STATE_OPERATION, ...)
                _ => throw new DaprError("ERR_NOT_SUPPORTED_STATE_OPERATION", $"operation type {op.OperationType} not supported", 500, StatusCode.Unimplemented),
            });
        }

        await rt.Actors.ApplyStateAsync(request.ActorType, request.ActorId, ops, context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> RegisterActorReminder(RegisterActorReminderRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        RequireName(request.Name, "reminder");
        var body = ScheduleBody(request.DueTime, request.Period, request.Ttl, request.Data, callback: null);
        var call = ActorCall.Of(request.ActorType, request.ActorId, "POST", "reminders/" + Uri.EscapeDataString(request.Name), body, ActorHeaders(context));
        await ActorOperations.RegisterReminderAsync(rt, call, request.Name, ActorLogger(context), context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> UnregisterActorReminder(UnregisterActorReminderRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        var call = ActorCall.Of(request.ActorType, request.ActorId, "DELETE", "reminders/" + Uri.EscapeDataString(request.Name), [], ActorHeaders(context));
        await ActorOperations.DeleteReminderAsync(rt, call, request.Name, ActorLogger(context), context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> RegisterActorTimer(RegisterActorTimerRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        RequireName(request.Name, "timer");
        var body = ScheduleBody(request.DueTime, request.Period, request.Ttl, request.Data, request.Callback);
        var call = ActorCall.Of(request.ActorType, request.ActorId, "POST", "timers/" + Uri.EscapeDataString(request.Name), body, ActorHeaders(context));
        await ActorOperations.RegisterTimerAsync(rt, call, request.Name, ActorLogger(context), context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> UnregisterActorTimer(UnregisterActorTimerRequest request, ServerCallContext context)
    {
        RequireActor(request.ActorType, request.ActorId);
        var call = ActorCall.Of(request.ActorType, request.ActorId, "DELETE", "timers/" + Uri.EscapeDataString(request.Name), [], ActorHeaders(context));
        await ActorOperations.DeleteTimerAsync(rt, call, request.Name, ActorLogger(context), context.CancellationToken);
        return new Empty();
    }

    /// <summary>
    /// The reminder or timer in the HTTP API's body form. daprd turns the gRPC <c>data</c> bytes into JSON with Go's
    /// <c>json.Marshal</c> (<c>pkg/api/universal/actors.go</c>), which writes bytes as a base64 string: the app gets
    /// <c>"data":"&lt;base64&gt;"</c> when it fires, as it does from daprd.
    /// </summary>
    private static byte[] ScheduleBody(string dueTime, string period, string ttl, ByteString data, string? callback)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("dueTime", dueTime);
            w.WriteString("period", period);
            if (ttl.Length > 0)
            {
                w.WriteString("ttl", ttl);
            }

            if (callback is { Length: > 0 })
            {
                w.WriteString("callback", callback);
            }

            if (data.Length > 0)
            {
                w.WriteBase64String("data", data.Span);
            }

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void RequireActor(string type, string id)
    {
        if (string.IsNullOrEmpty(type) || string.IsNullOrEmpty(id))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, string.IsNullOrEmpty(type) ? "invalid actorType: name is empty" : "invalid actorId: name is empty"));
        }
    }

    // daprd: messages.ErrBadRequest ("ERR_BAD_REQUEST", 400 / InvalidArgument) for an empty reminder name.
    private static void RequireName(string name, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new DaprError("ERR_BAD_REQUEST", $"invalid request: {what} name cannot be empty", 400, StatusCode.InvalidArgument);
        }
    }

    /// <summary>What a forwarded call carries from the gRPC caller: its API token (the owner checks it as its own HTTP API does) and trace context.</summary>
    private static List<KeyValuePair<string, string[]>> ActorHeaders(ServerCallContext context) =>
        [.. context.RequestHeaders
            .Where(h => !h.IsBinary
                && (h.Key is "dapr-api-token" or "traceparent" or "tracestate" || h.Key.Equals(ActorService.ReentrancyHeader, StringComparison.OrdinalIgnoreCase)))
            .Select(h => new KeyValuePair<string, string[]>(h.Key, [h.Value]))];

    private static ILogger ActorLogger(ServerCallContext context) =>
        context.GetHttpContext().RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("sidecar.actors");
}
