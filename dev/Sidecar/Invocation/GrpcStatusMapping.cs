using System.Globalization;
using System.Net;
using System.Text;
using Google.Protobuf;
using Grpc.Core;

namespace Platform.Sidecar.Invocation;

/// <summary>An app's gRPC status in daprd's HTTP terms, for an HTTP caller of a gRPC app.</summary>
internal static class GrpcStatusMapping
{
    private static readonly JsonFormatter StatusJson = new(JsonFormatter.Settings.Default.WithTypeRegistry(Google.Protobuf.Reflection.TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor)));

    /// <summary>
    /// An app's gRPC error as daprd answers an HTTP caller (directmessaging.go): its HTTP status for the code, the
    /// status as JSON, and the status itself in <see cref="AppChannelHeaders"/> for a gRPC caller.
    /// </summary>
    public static HttpResponseMessage ErrorResponse(RpcException e)
    {
        var details = e.Trailers.GetValueBytes("grpc-status-details-bin");
        var status = new Google.Rpc.Status { Code = (int)e.StatusCode, Message = e.Status.Detail ?? "" };
        if (details is not null)
        {
            try
            {
                status.Details.AddRange(Google.Rpc.Status.Parser.ParseFrom(details).Details);
            }
            catch (InvalidProtocolBufferException)
            {
                details = null;
            }
        }

        string json;
        try
        {
            json = StatusJson.Format(status);
        }
        catch (InvalidOperationException)
        {
            // A detail of a type the registry does not know: the status without its details.
            status.Details.Clear();
            json = StatusJson.Format(status);
        }

        var response = new HttpResponseMessage((HttpStatusCode)HttpStatusFromCode(e.StatusCode))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcStatus, ((int)e.StatusCode).ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcMessage, Uri.EscapeDataString(e.Status.Detail ?? ""));
        if (details is not null)
        {
            response.Headers.TryAddWithoutValidation(AppChannelHeaders.GrpcDetails, Convert.ToBase64String(details));
        }

        return response;
    }

    /// <summary>daprd's HTTP status for a gRPC code (dapr/dapr <c>pkg/messaging/v1/util.go</c> HTTPStatusFromCode).</summary>
    public static int HttpStatusFromCode(StatusCode code) => code switch
    {
        StatusCode.OK => 200,
        StatusCode.Cancelled => 408,
        StatusCode.Unknown => 500,
        StatusCode.InvalidArgument => 400,
        StatusCode.DeadlineExceeded => 504,
        StatusCode.NotFound => 404,
        StatusCode.AlreadyExists => 409,
        StatusCode.PermissionDenied => 403,
        StatusCode.Unauthenticated => 401,
        StatusCode.ResourceExhausted => 429,
        StatusCode.FailedPrecondition => 400,
        StatusCode.Aborted => 409,
        StatusCode.OutOfRange => 400,
        StatusCode.Unimplemented => 501,
        StatusCode.Internal => 500,
        StatusCode.Unavailable => 503,
        StatusCode.DataLoss => 500,
        _ => 500,
    };
}
