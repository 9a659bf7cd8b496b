using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Platform.Sidecar.State;
using StateItem = Dapr.Client.Autogen.Grpc.v1.StateItem;

namespace Platform.Sidecar.Api;

/// <summary>The state API over gRPC: translates to and from <see cref="State.StateService"/>.</summary>
public partial class DaprGrpcService
{
    private static void BindState(ServiceBinderBase binder)
    {
        Add<GetStateRequest, GetStateResponse>(binder, nameof(GetState));
        Add<GetBulkStateRequest, GetBulkStateResponse>(binder, nameof(GetBulkState));
        Add<SaveStateRequest, Empty>(binder, nameof(SaveState));
        Add<DeleteStateRequest, Empty>(binder, nameof(DeleteState));
        Add<DeleteBulkStateRequest, Empty>(binder, nameof(DeleteBulkState));
        Add<ExecuteStateTransactionRequest, Empty>(binder, nameof(ExecuteStateTransaction));
    }

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
        var results = await rt.State.BulkGetAsync(request.StoreName, request.Keys, context.CancellationToken);
        var items = results.Select(r => r.Item is { } item
            ? new BulkStateItem { Key = r.Key, Data = ByteString.CopyFrom(item.Data.Span), Etag = item.ETag }
            : new BulkStateItem { Key = r.Key, Error = r.Error ?? "" });
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
}
