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
        Add<GetStateRequest, GetStateResponse>(binder, nameof(GetState));
        Add<GetBulkStateRequest, GetBulkStateResponse>(binder, nameof(GetBulkState));
        Add<SaveStateRequest, Empty>(binder, nameof(SaveState));
        Add<DeleteStateRequest, Empty>(binder, nameof(DeleteState));
        Add<DeleteBulkStateRequest, Empty>(binder, nameof(DeleteBulkState));
        Add<ExecuteStateTransactionRequest, Empty>(binder, nameof(ExecuteStateTransaction));
        Add<PublishEventRequest, Empty>(binder, nameof(PublishEvent));
        Add<BulkPublishRequest, BulkPublishResponse>(binder, nameof(BulkPublishEvent));
        Add<BulkPublishRequest, BulkPublishResponse>(binder, nameof(BulkPublishEventAlpha1));
        Add<InvokeServiceRequest, InvokeResponse>(binder, nameof(InvokeService));
        Add<GetSecretRequest, GetSecretResponse>(binder, nameof(GetSecret));
        Add<GetBulkSecretRequest, GetBulkSecretResponse>(binder, nameof(GetBulkSecret));
        Add<GetMetadataRequest, GetMetadataResponse>(binder, nameof(GetMetadata));
        Add<SetMetadataRequest, Empty>(binder, nameof(SetMetadata));
        Add<ShutdownRequest, Empty>(binder, nameof(Shutdown));
        BindLocks(binder);
        BindConfiguration(binder);
        BindBindings(binder);
    }

    // Each building block's folder binds its own methods in its part of this class.
    static partial void BindLocks(ServiceBinderBase binder);

    static partial void BindConfiguration(ServiceBinderBase binder);

    static partial void BindBindings(ServiceBinderBase binder);

    private static void Add<TRequest, TResponse>(ServiceBinderBase binder, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var parser = new MessageParser<TRequest>(() => new TRequest());
        var responseParser = new MessageParser<TResponse>(() => new TResponse());
        var method = new Method<TRequest, TResponse>(MethodType.Unary, ServiceName, name,
            Marshallers.Create(r => r.ToByteArray(), parser.ParseFrom),
            Marshallers.Create(r => r.ToByteArray(), responseParser.ParseFrom));
        binder.AddMethod(method, (UnaryServerMethod<TRequest, TResponse>)null!);
    }

    // ---- state ----

    public virtual async Task<GetStateResponse> GetState(GetStateRequest request, ServerCallContext context)
    {
        var item = await rt.State.GetAsync(request.StoreName, request.Key, context.CancellationToken);
        var response = new GetStateResponse();
        if (item is not null)
        {
            response.Data = ByteString.CopyFrom(item.Data.Span);
            response.Etag = item.ETag;
        }

        return response;
    }

    public virtual async Task<GetBulkStateResponse> GetBulkState(GetBulkStateRequest request, ServerCallContext context)
    {
        rt.Components.StateStore(request.StoreName);
        var items = await Task.WhenAll(request.Keys.Select(async key =>
        {
            var result = new BulkStateItem { Key = key };
            try
            {
                if (await rt.State.GetAsync(request.StoreName, key, context.CancellationToken) is { } item)
                {
                    result.Data = ByteString.CopyFrom(item.Data.Span);
                    result.Etag = item.ETag;
                }
            }
            catch (DaprError e)
            {
                result.Error = e.Message;
            }

            return result;
        }));
        var response = new GetBulkStateResponse();
        response.Items.AddRange(items);
        return response;
    }

    public virtual async Task<Empty> SaveState(SaveStateRequest request, ServerCallContext context)
    {
        await rt.State.ApplyAsync(request.StoreName, request.States.Select(ToUpsert).ToList(), "ERR_STATE_SAVE", context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> DeleteState(DeleteStateRequest request, ServerCallContext context)
    {
        var op = new Delete(request.Key, EtagOf(request.Etag), ConcurrencyOf(request.Options));
        await rt.State.ApplyAsync(request.StoreName, [op], "ERR_STATE_DELETE", context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> DeleteBulkState(DeleteBulkStateRequest request, ServerCallContext context)
    {
        var ops = request.States.Select(s => (StateOperation)new Delete(s.Key, EtagOf(s.Etag), ConcurrencyOf(s.Options))).ToList();
        await rt.State.ApplyAsync(request.StoreName, ops, "ERR_STATE_DELETE", context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<Empty> ExecuteStateTransaction(ExecuteStateTransactionRequest request, ServerCallContext context)
    {
        var ops = request.Operations.Select(o => o.OperationType switch
        {
            "upsert" => ToUpsert(o.Request),
            "delete" => new Delete(o.Request.Key, EtagOf(o.Request.Etag), ConcurrencyOf(o.Request.Options)),
            _ => throw DaprError.Malformed($"operation type '{o.OperationType}' is not upsert or delete"),
        }).ToList();
        await rt.State.ApplyAsync(request.StoreName, ops, "ERR_STATE_TRANSACTION", context.CancellationToken);
        return new Empty();
    }

    private static StateOperation ToUpsert(StateItem s) =>
        new Upsert(s.Key, s.Value.Memory, EtagOf(s.Etag), ConcurrencyOf(s.Options), StateService.ParseTtl(s.Metadata));

    private static string? EtagOf(Etag? etag) => etag is { Value.Length: > 0 } ? etag.Value : null;

    private static Concurrency ConcurrencyOf(StateOptions? options) => options?.Concurrency switch
    {
        StateOptions.Types.StateConcurrency.ConcurrencyFirstWrite => Concurrency.FirstWrite,
        StateOptions.Types.StateConcurrency.ConcurrencyLastWrite => Concurrency.LastWrite,
        _ => Concurrency.Unspecified,
    };

    // ---- pub/sub ----

    public virtual async Task<Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
    {
        await rt.Publisher.PublishAsync(request.PubsubName, request.Topic, request.Data.Memory, request.DataContentType,
            request.Metadata, Header(context, "traceparent"), Header(context, "tracestate"), context.CancellationToken);
        return new Empty();
    }

    public virtual async Task<BulkPublishResponse> BulkPublishEvent(BulkPublishRequest request, ServerCallContext context)
    {
        var entries = request.Entries.Select(e => new BulkPublishEntry(e.EntryId, e.Event.Memory, e.ContentType, e.Metadata)).ToList();
        var failed = await rt.Publisher.BulkPublishAsync(request.PubsubName, request.Topic, entries, request.Metadata,
            Header(context, "traceparent"), Header(context, "tracestate"), context.CancellationToken);
        var response = new BulkPublishResponse();
        response.FailedEntries.AddRange(failed.Select(f => new BulkPublishResponseFailedEntry { EntryId = f.EntryId, Error = f.Error }));
        return response;
    }

    public virtual Task<BulkPublishResponse> BulkPublishEventAlpha1(BulkPublishRequest request, ServerCallContext context) => BulkPublishEvent(request, context);

    // ---- invocation ----

    public virtual async Task<InvokeResponse> InvokeService(InvokeServiceRequest request, ServerCallContext context)
    {
        var message = request.Message ?? throw DaprError.Malformed("message is required");
        var verb = message.HttpExtension is { } ext && ext.Verb != HTTPExtension.Types.Verb.None ? ext.Verb.ToString().ToUpperInvariant() : "POST";
        var query = message.HttpExtension is { Querystring.Length: > 0 } e ? "?" + e.Querystring : "";
        var headers = new List<KeyValuePair<string, string[]>>();
        if (message.ContentType.Length > 0)
        {
            headers.Add(new("Content-Type", [message.ContentType]));
        }

        foreach (var h in context.RequestHeaders.Where(h => !h.IsBinary && h.Key is "traceparent" or "tracestate"))
        {
            headers.Add(new(h.Key, [h.Value]));
        }

        // gRPC carries the method as plain text: nothing to percent-decode (daprd only normalises it, in the Invoker).
        var call = new OutboundCall(verb, message.Method, query, message.Data?.Value.ToByteArray() ?? [], headers, rt.AppId);
        using var result = await rt.Invoker.InvokeAsync(request.Id, call, forwarded: false, context.CancellationToken);
        var body = await result.Response.Content.ReadAsByteArrayAsync(context.CancellationToken);
        if (!result.Response.IsSuccessStatusCode)
        {
            throw new RpcException(new Status(FromHttp((int)result.Response.StatusCode), Encoding.UTF8.GetString(body)));
        }

        return new InvokeResponse
        {
            Data = new Any { Value = ByteString.CopyFrom(body) },
            ContentType = result.Response.Content.Headers.ContentType?.ToString() ?? "",
        };
    }

    private static StatusCode FromHttp(int status) => status switch
    {
        400 => StatusCode.InvalidArgument,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.NotFound,
        409 => StatusCode.Aborted,
        429 => StatusCode.ResourceExhausted,
        501 => StatusCode.Unimplemented,
        503 => StatusCode.Unavailable,
        504 => StatusCode.DeadlineExceeded,
        _ => StatusCode.Unknown,
    };

    // ---- secrets, metadata, shutdown ----

    public virtual Task<GetSecretResponse> GetSecret(GetSecretRequest request, ServerCallContext context)
    {
        var store = rt.Components.SecretStore(request.StoreName);
        if (!rt.SecretScopes.Allows(request.StoreName, request.Key))
        {
            throw DaprError.SecretPermissionDenied(request.Key, request.StoreName);
        }

        if (!store.TryGet(request.Key, out var values))
        {
            throw new DaprError("ERR_SECRET_GET", $"failed getting secret with key {request.Key} from secret store {request.StoreName}: secret {request.Key} not found", 500, StatusCode.Internal);
        }

        var response = new GetSecretResponse();
        response.Data.Add(values.ToDictionary());
        return Task.FromResult(response);
    }

    public virtual Task<GetBulkSecretResponse> GetBulkSecret(GetBulkSecretRequest request, ServerCallContext context)
    {
        var store = rt.Components.SecretStore(request.StoreName);
        var response = new GetBulkSecretResponse();
        foreach (var name in store.Names.Where(n => rt.SecretScopes.Allows(request.StoreName, n)))
        {
            store.TryGet(name, out var values);
            var secret = new SecretResponse();
            secret.Secrets.Add(values.ToDictionary());
            response.Data[name] = secret;
        }

        return Task.FromResult(response);
    }

    public virtual Task<GetMetadataResponse> GetMetadata(GetMetadataRequest request, ServerCallContext context)
    {
        var response = new GetMetadataResponse
        {
            Id = rt.AppId,
            RuntimeVersion = Metadata.RuntimeVersion,
            AppConnectionProperties = new AppConnectionProperties
            {
                Port = rt.App.Port ?? 0,
                Protocol = "http",
                ChannelAddress = rt.Options.AppChannelAddress,
                MaxConcurrency = Math.Max(rt.App.MaxConcurrency, 0),
            },
        };
        foreach (var c in rt.Components.All)
        {
            var registered = new RegisteredComponents { Name = c.Name, Type = c.Type, Version = c.Version };
            registered.Capabilities.AddRange(Metadata.Capabilities(c.Type));
            response.RegisteredComponents.Add(registered);
        }

        foreach (var (k, v) in rt.Extended)
        {
            response.ExtendedMetadata[k] = v;
        }

        var actorRuntime = new ActorRuntime
        {
            RuntimeStatus = ActorRuntime.Types.ActorRuntimeStatus.Running,
            HostReady = rt.Actors.HostedTypes.Count > 0,
            Placement = "placement: consistent hashing over the sidecar name registry",
        };
        foreach (var (type, count) in rt.Actors.ActiveCounts())
        {
            // The deprecated top-level list, for clients older than actor_runtime (the 1.19 SDK reads actor_runtime).
#pragma warning disable CS0612
            response.ActiveActorsCount.Add(new ActiveActorsCount { Type = type, Count = count });
#pragma warning restore CS0612
            actorRuntime.ActiveActors.Add(new ActiveActorsCount { Type = type, Count = count });
        }

        response.ActorRuntime = actorRuntime;

        foreach (var s in rt.Subscriber.Subscriptions)
        {
            var sub = new PubsubSubscription { PubsubName = s.PubSubName, Topic = s.Topic, DeadLetterTopic = s.DeadLetterTopic ?? "" };
            sub.Metadata.Add(s.Metadata.ToDictionary());
            response.Subscriptions.Add(sub);
        }

        return Task.FromResult(response);
    }

    public virtual Task<Empty> SetMetadata(SetMetadataRequest request, ServerCallContext context)
    {
        rt.Extended[request.Key] = request.Value;
        return Task.FromResult(new Empty());
    }

    public virtual Task<Empty> Shutdown(ShutdownRequest request, ServerCallContext context)
    {
        rt.RequestShutdown();
        return Task.FromResult(new Empty());
    }

    private static string? Header(ServerCallContext context, string name) => context.RequestHeaders.GetValue(name);
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
