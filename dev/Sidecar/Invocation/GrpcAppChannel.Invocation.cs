using System.Net;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Platform.Sidecar.Invocation;

/// <summary>Service invocation over the gRPC app channel: <c>AppCallback.OnInvoke</c>.</summary>
public sealed partial class GrpcAppChannel
{
    private static readonly Method<InvokeRequest, InvokeResponse> OnInvoke = Unary<InvokeRequest, InvokeResponse>(Callback, "OnInvoke");

    /// <summary>
    /// The IANA permanent HTTP headers, which daprd passes to a gRPC app with a <c>dapr-</c> prefix
    /// (dapr/dapr <c>pkg/messaging/v1/util.go</c> isPermanentHTTPHeader, InternalMetadataToGrpcMetadata).
    /// </summary>
    private static readonly HashSet<string> PermanentHttpHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Accept", "Accept-Charset", "Accept-Language", "Accept-Ranges", "Connection", "Keep-Alive", "Proxy-Connection",
        "Transfer-Encoding", "Upgrade", "Cache-Control", "Content-Type", "Content-Length", "Cookie", "Date", "Expect",
        "From", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Schedule-Tag-Match", "If-Unmodified-Since",
        "Max-Forwards", "Origin", "Pragma", "Referer", "Via", "Warning",
    };

    /// <summary>
    /// <c>OnInvoke</c> with the method, the data as <c>Any</c>, the content type and the HTTP verb and query string
    /// (grpc_channel.go invokeMethodV1); the caller's headers go as metadata, daprd's way. The answer becomes an HTTP
    /// response: 200 with the data and content type, or, for a gRPC error, daprd's HTTP status for the code
    /// (util.go HTTPStatusFromCode) with the status as JSON (directmessaging.go); the gRPC status itself travels in
    /// <see cref="AppChannelHeaders"/> for a gRPC caller.
    /// </summary>
    public async Task<InvocationResult> InvokeMethodAsync(OutboundCall call, CancellationToken ct)
    {
        string? Header(string name) => call.Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

        var request = new InvokeRequest
        {
            Method = call.Path,
            ContentType = Header("content-type") ?? "",
            Data = new Any { TypeUrl = Header(AppChannelHeaders.DataTypeUrl) ?? "", Value = ByteString.CopyFrom(call.Body) },
        };
        if (Header(AppChannelHeaders.NoVerb) is null)
        {
            request.HttpExtension = new HTTPExtension
            {
                Verb = System.Enum.TryParse<HTTPExtension.Types.Verb>(call.Method, ignoreCase: true, out var verb) ? verb : HTTPExtension.Types.Verb.None,
                Querystring = call.Query.StartsWith('?') ? call.Query[1..] : call.Query,
            };
        }

        var metadata = new Metadata();
        foreach (var (name, values) in call.Headers)
        {
            var key = name.ToLowerInvariant();
            if (Invoker.IsDropped(name) || AppChannelHeaders.IsPrivate(key) || key is "traceparent" or "tracestate" or "grpc-trace-bin" or "destination-app-id" or "user-agent"
                || (key == "dapr-api-token" && (_hasApiToken || Connection.AppApiToken is not null)))
            {
                continue;
            }

            if (PermanentHttpHeaders.Contains(name) || key.StartsWith("grpc-", StringComparison.Ordinal))
            {
                key = "dapr-" + key;
            }

            foreach (var value in values)
            {
                AddMetadata(metadata, key, value);
            }
        }

        metadata.Add("dapr-caller-app-id", call.CallerAppId ?? _appId);
        metadata.Add("dapr-callee-app-id", _appId);
        AddTrace(metadata, call.Traceparent, call.Tracestate);
        try
        {
            var answer = await CallAsync(OnInvoke, request, metadata, ct);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(answer.Data?.Value.ToByteArray() ?? []) };
            if (answer.ContentType.Length > 0)
            {
                response.Content.Headers.TryAddWithoutValidation("Content-Type", answer.ContentType);
            }

            response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcStatus, "0");
            if (answer.Data is { TypeUrl.Length: > 0 } data)
            {
                response.Headers.TryAddWithoutValidation(AppChannelHeaders.DataTypeUrl, data.TypeUrl);
            }

            return new InvocationResult(response, NoLease.Instance);
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            // An unreachable app is an error status too (Unavailable), as from grpc-go in daprd.
            return new InvocationResult(GrpcStatusMapping.ErrorResponse(e), NoLease.Instance);
        }
    }
}
