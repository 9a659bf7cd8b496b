using Dapr.AppCallback.Autogen.Grpc.v1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Platform.Sidecar.Invocation;

/// <summary>Input bindings over the gRPC app channel: <c>ListInputBindings</c> and <c>OnBindingEvent</c>.</summary>
public sealed partial class GrpcAppChannel
{
    private static readonly Method<Empty, ListInputBindingsResponse> ListInputBindings = Unary<Empty, ListInputBindingsResponse>(Callback, "ListInputBindings");
    private static readonly Method<BindingEventRequest, BindingEventResponse> OnBindingEvent = Unary<BindingEventRequest, BindingEventResponse>(Callback, "OnBindingEvent");

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
            throw new AppCallException($"error invoking app: {e.Status.Detail}", GrpcStatusMapping.HttpStatusFromCode(e.StatusCode), e.StatusCode, e);
        }
    }
}
