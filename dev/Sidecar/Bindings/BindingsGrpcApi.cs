using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Grpc.Core;
using Platform.Sidecar.Bindings;

namespace Platform.Sidecar.Api;

/// <summary>
/// gRPC <c>InvokeBinding</c>, as dapr/dapr <c>pkg/api/grpc/grpc.go</c> does it: the request's metadata, plus the
/// call's own gRPC metadata for keys it does not already have (<c>grpc-*</c> renamed <c>dapr-grpc-*</c>), go to the
/// binding; its data and metadata come back in the response, its metadata also as <c>metadata.{key}</c> headers.
/// </summary>
public partial class DaprGrpcService
{
    static partial void BindBindings(ServiceBinderBase binder) =>
        Add<InvokeBindingRequest, InvokeBindingResponse>(binder, nameof(InvokeBinding));

    public virtual async Task<InvokeBindingResponse> InvokeBinding(InvokeBindingRequest request, ServerCallContext context)
    {
        var metadata = new Dictionary<string, string>(request.Metadata, StringComparer.Ordinal);
        foreach (var entry in context.RequestHeaders.Where(h => !h.IsBinary))
        {
            var key = entry.Key.StartsWith("grpc-", StringComparison.Ordinal) ? "dapr-" + entry.Key : entry.Key;
            metadata.TryAdd(key, entry.Value);
        }

        var result = await rt.Bindings.InvokeAsync(request.Name, new BindingRequest(request.Operation, request.Data.ToByteArray(), metadata), context.CancellationToken);
        var response = new InvokeBindingResponse();
        if (result is not null)
        {
            if (result.Metadata.Count > 0)
            {
                var headers = new Grpc.Core.Metadata();
                foreach (var (k, v) in result.Metadata)
                {
                    headers.Add("metadata." + k.ToLowerInvariant(), v);
                }

                await context.WriteResponseHeadersAsync(headers);
            }

            response.Data = ByteString.CopyFrom(result.Data);
            response.Metadata.Add(result.Metadata.ToDictionary());
        }

        return response;
    }
}
