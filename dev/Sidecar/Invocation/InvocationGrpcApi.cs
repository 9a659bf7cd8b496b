using System.Text;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Platform.Sidecar.Invocation;
using Status = Grpc.Core.Status;

namespace Platform.Sidecar.Api;

/// <summary>Service invocation over gRPC (<c>InvokeService</c>): translates to and from <see cref="Invocation.Invoker"/>.</summary>
public partial class DaprGrpcService
{
    private static void BindInvocation(ServiceBinderBase binder)
    {
        Add<InvokeServiceRequest, InvokeResponse>(binder, nameof(InvokeService));
    }

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

        // For a gRPC app (daprd passes the InvokeRequest on): the data's type URL, and that there was no http_extension.
        if (message.Data is { TypeUrl.Length: > 0 } any)
        {
            headers.Add(new(AppChannelHeaders.DataTypeUrl, [any.TypeUrl]));
        }

        if (message.HttpExtension is null)
        {
            headers.Add(new(AppChannelHeaders.NoVerb, ["1"]));
        }

        // gRPC carries the method as plain text: nothing to percent-decode (daprd only normalises it, in the Invoker).
        var call = new OutboundCall(verb, message.Method, query, message.Data?.Value.ToByteArray() ?? [], headers, rt.AppId);
        using var result = await rt.Invoker.InvokeAsync(request.Id, call, forwarded: false, context.CancellationToken);
        var body = await result.Response.Content.ReadAsByteArrayAsync(context.CancellationToken);
        if (FromGrpcApp(result.Response) is { } status)
        {
            // A gRPC app's answer: its status as it gave it (daprd pkg/api/grpc InvokeService, ErrorFromInternalStatus).
            if (status.Status.StatusCode != StatusCode.OK)
            {
                throw new RpcException(status.Status, status.Trailers);
            }

            return new InvokeResponse
            {
                Data = new Any { TypeUrl = Single(result.Response, AppChannelHeaders.DataTypeUrl) ?? "", Value = ByteString.CopyFrom(body) },
                ContentType = result.Response.Content.Headers.ContentType?.ToString() ?? "",
            };
        }

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

    private static string? Single(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>The gRPC status of a gRPC app's answer (from the sidecars' private headers); null for an HTTP app.</summary>
    private static (Status Status, Grpc.Core.Metadata Trailers)? FromGrpcApp(HttpResponseMessage response)
    {
        if (Single(response, AppChannelHeaders.GrpcStatus) is not { } code || !int.TryParse(code, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        var trailers = new Grpc.Core.Metadata();
        if (Single(response, AppChannelHeaders.GrpcDetails) is { } details)
        {
            try
            {
                trailers.Add("grpc-status-details-bin", Convert.FromBase64String(details));
            }
            catch (FormatException)
            {
                // Not ours: no details.
            }
        }

        return (new Status((StatusCode)value, Uri.UnescapeDataString(Single(response, AppChannelHeaders.GrpcMessage) ?? "")), trailers);
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
}
