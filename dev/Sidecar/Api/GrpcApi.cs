using System.Text;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.State;
using BulkPublishEntry = Platform.Sidecar.PubSub.BulkPublishEntry;
using Status = Grpc.Core.Status;
using StateItem = Dapr.Client.Autogen.Grpc.v1.StateItem;

namespace Platform.Sidecar.Api;

/// <summary>
/// The gRPC API, service <c>dapr.proto.runtime.v1.Dapr</c>. <c>Dapr.Protos</c> ships only the client stub, so the
/// methods are bound here by name to its message types (<see cref="BindService"/>). Methods not bound answer
/// <c>Unimplemented</c>, which is also what the 1.19 SDK's version-aware client needs to fall back from
/// <c>BulkPublishEvent</c> to <c>BulkPublishEventAlpha1</c> and similar.
/// </summary>
[BindServiceMethod(typeof(DaprGrpcService), nameof(BindService))]
// Not sealed, handlers virtual: the ASP.NET Core binder accepts only virtual handlers declared on the attributed type.
public partial class DaprGrpcService(SidecarRuntime rt)
{
    private const string ServiceName = "dapr.proto.runtime.v1.Dapr";

    public static void BindService(ServiceBinderBase binder, DaprGrpcService? service)
    {
        // ASP.NET Core's binder finds each handler on this class by the gRPC method's name; the delegate is unused.
        BindState(binder);
        BindPubSub(binder);
        BindInvocation(binder);
        BindSecrets(binder);
        BindMetadata(binder);
        Add<ShutdownRequest, Empty>(binder, nameof(Shutdown));
        BindLocks(binder);
        BindConfiguration(binder);
        BindBindings(binder);
        BindActors(binder);
        BindWorkflows(binder);
    }

    // Each building block's folder binds its own methods in its part of this class.
    static partial void BindLocks(ServiceBinderBase binder);

    static partial void BindConfiguration(ServiceBinderBase binder);

    static partial void BindBindings(ServiceBinderBase binder);

    static partial void BindActors(ServiceBinderBase binder);

    static partial void BindWorkflows(ServiceBinderBase binder);

    /// <summary>Binds a unary method by name; ASP.NET Core finds the handler on this class.</summary>
    private static void Add<TRequest, TResponse>(ServiceBinderBase binder, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        binder.AddMethod(ProtobufMethod.Create<TRequest, TResponse>(MethodType.Unary, ServiceName, name), (UnaryServerMethod<TRequest, TResponse>)null!);

    /// <summary>Binds a server-streaming method by name; ASP.NET Core finds the handler on this class.</summary>
    private static void AddServerStreaming<TRequest, TResponse>(ServiceBinderBase binder, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        binder.AddMethod(ProtobufMethod.Create<TRequest, TResponse>(MethodType.ServerStreaming, ServiceName, name), (ServerStreamingServerMethod<TRequest, TResponse>)null!);

    // ---- the sidecar itself ----

    public virtual Task<Empty> Shutdown(ShutdownRequest request, ServerCallContext context)
    {
        rt.RequestShutdown();
        return Task.FromResult(new Empty());
    }

    private static string? Header(ServerCallContext context, string name) => context.RequestHeaders.GetValue(name);
}

/// <summary>
/// A gRPC method descriptor for protobuf messages, by service and method name: the server's binding here, and the
/// client's calls to the app (<see cref="GrpcAppChannel"/>), as <c>Dapr.Protos</c> has only one side of each.
/// </summary>
internal static class ProtobufMethod
{
    public static Method<TRequest, TResponse> Create<TRequest, TResponse>(MethodType type, string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var requests = new MessageParser<TRequest>(() => new TRequest());
        var responses = new MessageParser<TResponse>(() => new TResponse());
        return new Method<TRequest, TResponse>(type, service, name,
            Marshallers.Create(r => r.ToByteArray(), requests.ParseFrom),
            Marshallers.Create(r => r.ToByteArray(), responses.ParseFrom));
    }
}

/// <summary>Turns a <see cref="DaprError"/> into the gRPC status daprd sends, with the rich <c>ErrorInfo</c> detail where daprd has one.</summary>
internal sealed class DaprErrorInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (DaprError e)
        {
            throw ToRpc(e);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (DaprError e)
        {
            throw ToRpc(e);
        }
    }

    private static RpcException ToRpc(DaprError e)
    {
        var trailers = new Grpc.Core.Metadata();
        if (e.Reason is not null)
        {
            var status = new Google.Rpc.Status { Code = (int)e.GrpcStatus, Message = e.Message };
            status.Details.Add(Any.Pack(new Google.Rpc.ErrorInfo { Reason = e.Reason, Domain = "dapr.io" }));
            trailers.Add("grpc-status-details-bin", status.ToByteArray());
        }

        return new RpcException(new Status(e.GrpcStatus, e.Message), trailers);
    }
}

/// <summary>gRPC side of the API token: a missing or wrong <c>dapr-api-token</c> is <c>Unauthenticated</c> (daprd pkg/api/grpc/auth.go).</summary>
internal sealed class ApiTokenInterceptor(SidecarRuntime rt) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (rt.Options.ApiToken is { } token)
        {
            var given = context.RequestHeaders.GetValue("dapr-api-token");
            if (given is null)
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated, "missing api token in request metadata"));
            }

            if (!Tokens.Match(given, token))
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated, "authentication error: api token mismatch"));
            }
        }
    }
}
