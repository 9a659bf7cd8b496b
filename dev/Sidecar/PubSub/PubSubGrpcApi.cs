using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using BulkPublishEntry = Platform.Sidecar.PubSub.BulkPublishEntry;

namespace Platform.Sidecar.Api;

/// <summary>The publish API over gRPC: translates to and from <see cref="PubSub.Publisher"/>.</summary>
public partial class DaprGrpcService
{
    private static void BindPubSub(ServiceBinderBase binder)
    {
        Add<PublishEventRequest, Empty>(binder, nameof(PublishEvent));
        Add<BulkPublishRequest, BulkPublishResponse>(binder, nameof(BulkPublishEvent));
        Add<BulkPublishRequest, BulkPublishResponse>(binder, nameof(BulkPublishEventAlpha1));
    }

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
}
