using System.Net;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The app channel over gRPC (<c>--app-protocol grpc</c>): the sidecar is a client of the app's
/// <c>dapr.proto.runtime.v1.AppCallback</c> (and <c>AppCallbackAlpha</c>, <c>AppCallbackHealthCheck</c>) over HTTP/2
/// without TLS, as daprd's <c>pkg/channel/grpc/grpc_channel.go</c> and <c>pkg/runtime/subscription/postman/grpc/grpc.go</c>.
/// <c>Dapr.Protos</c> has only the server side of these services, so the client methods are declared here. Every
/// call carries <c>dapr-api-token</c> when an app token is set, and runs under <c>--app-max-concurrency</c>.
/// The class is in parts: this one connects and calls; <c>GrpcAppChannel.Invocation.cs</c> (<c>OnInvoke</c>),
/// <c>GrpcAppChannel.PubSub.cs</c> (subscriptions, topic and bulk topic events) and <c>GrpcAppChannel.Bindings.cs</c>
/// (input bindings); the pure conversions are <see cref="GrpcCloudEvent"/> and <see cref="GrpcStatusMapping"/>.
/// </summary>
public sealed partial class GrpcAppChannel : IAppChannel
{
    private const string Callback = "dapr.proto.runtime.v1.AppCallback";
    private const string CallbackAlpha = "dapr.proto.runtime.v1.AppCallbackAlpha";
    private const string CallbackHealth = "dapr.proto.runtime.v1.AppCallbackHealthCheck";

    private static readonly Method<Empty, HealthCheckResponse> HealthCheck = Unary<Empty, HealthCheckResponse>(CallbackHealth, "HealthCheck");

    private readonly string _appId;
    private readonly bool _hasApiToken;
    private readonly ILogger _logger;
    private readonly GrpcChannel? _channel;
    private readonly CallInvoker? _calls;

    /// <param name="connection">the app's address, cap and token</param>
    /// <param name="appId">this sidecar's app-id</param>
    /// <param name="hasApiToken">whether the sidecar has an API token (the caller's <c>dapr-api-token</c> then stays behind)</param>
    /// <param name="maxMessageSize"><c>--max-body-size</c>: the largest message sent to or taken from the app</param>
    /// <param name="logger">where to log</param>
    public GrpcAppChannel(AppChannel connection, string appId, bool hasApiToken, long maxMessageSize, ILogger logger)
    {
        Connection = connection;
        _appId = appId;
        _hasApiToken = hasApiToken;
        _logger = logger;
        if (connection.BaseAddress is { } address)
        {
            var max = (int)Math.Min(maxMessageSize, int.MaxValue);
            _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler
                {
                    UseProxy = false,
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    UseCookies = false,
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
                    EnableMultipleHttp2Connections = true,
                },
                DisposeHttpClient = true,
                MaxReceiveMessageSize = max,
                MaxSendMessageSize = max,
            });
            _calls = _channel.CreateCallInvoker();
        }
    }

    public AppChannel Connection { get; }

    public AppProtocol Protocol => AppProtocol.Grpc;

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        ProtobufMethod.Create<TRequest, TResponse>(MethodType.Unary, service, name);

    /// <summary>One unary call: under the concurrency cap (unless <paramref name="capped"/> is false), with the app token.</summary>
    private async Task<TResponse> CallAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, Metadata headers, CancellationToken ct, bool capped = true)
        where TRequest : class
        where TResponse : class
    {
        var calls = _calls ?? throw new InvalidOperationException("the sidecar was started without --app-port");
        if (Connection.AppApiToken is { } token)
        {
            // daprd: the app token as dapr-api-token metadata (grpc_channel.go AddAppTokenToContext).
            headers.Add("dapr-api-token", token);
        }

        using var lease = capped ? await Connection.AcquireAsync(ct) : null;
        using var call = calls.AsyncUnaryCall(method, null, new CallOptions(headers, cancellationToken: ct), request);
        return await call.ResponseAsync;
    }

    /// <summary>Adds an entry if gRPC can carry it (a valid key; a printable ASCII value, or base64 for a <c>-bin</c> key).</summary>
    private static void AddMetadata(Metadata metadata, string key, string value)
    {
        if (key.Length == 0 || !key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'))
        {
            return;
        }

        if (key.EndsWith("-bin", StringComparison.Ordinal))
        {
            try
            {
                metadata.Add(key, Convert.FromBase64String(value));
            }
            catch (FormatException)
            {
                // daprd skips a binary value it cannot decode.
            }

            return;
        }

        if (value.All(c => c is >= ' ' and <= '~'))
        {
            metadata.Add(key, value);
        }
    }

    /// <summary>
    /// The trace context as daprd sends it to a gRPC app: W3C <c>traceparent</c>/<c>tracestate</c> and the binary
    /// <c>grpc-trace-bin</c> (dapr/dapr <c>pkg/diagnostics/grpc_tracing.go</c> SpanContextToGRPCMetadata).
    /// </summary>
    private static void AddTrace(Metadata metadata, string? traceparent, string? tracestate)
    {
        if (traceparent is null)
        {
            return;
        }

        metadata.Add("traceparent", traceparent);
        if (!string.IsNullOrEmpty(tracestate))
        {
            metadata.Add("tracestate", tracestate);
        }

        if (TraceBin(traceparent) is { } bin)
        {
            metadata.Add("grpc-trace-bin", bin);
        }
    }

    /// <summary>The OpenCensus binary trace context: version 0, field 0 trace id, field 1 span id, field 2 options.</summary>
    internal static byte[]? TraceBin(string traceparent)
    {
        var parts = traceparent.Split('-');
        if (parts.Length < 4 || parts[1].Length != 32 || parts[2].Length != 16 || parts[3].Length != 2)
        {
            return null;
        }

        try
        {
            var bin = new byte[29];
            bin[1] = 0;
            Convert.FromHexString(parts[1]).CopyTo(bin, 2);
            bin[18] = 1;
            Convert.FromHexString(parts[2]).CopyTo(bin, 19);
            bin[27] = 2;
            bin[28] = Convert.FromHexString(parts[3])[0];
            return bin;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary><c>AppCallbackHealthCheck.HealthCheck</c> (grpc_channel.go HealthProbe); any error is unhealthy. Not under the cap, as in daprd.</summary>
    public async Task<bool> HealthCheckAsync(CancellationToken ct)
    {
        try
        {
            await CallAsync(HealthCheck, new Empty(), new Metadata(), ct, capped: false);
            return true;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    public void Dispose() => _channel?.Dispose();

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }
}
