using Microsoft.Extensions.Logging;

namespace Platform.Sidecar;

/// <summary>How to start a sidecar. The names follow daprd's command line.</summary>
public sealed record SidecarOptions
{
    /// <summary><c>--app-id</c>: the app's id; invocation, consumer groups and state key prefixes use it.</summary>
    public required string AppId { get; init; }

    /// <summary><c>--app-port</c>: where the app listens; without it the sidecar makes no calls into an app.</summary>
    public int? AppPort { get; init; }

    /// <summary><c>--app-channel-address</c>: the app's host (default 127.0.0.1).</summary>
    public string AppChannelAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// <c>--app-protocol</c>: <c>http</c> (default), <c>grpc</c> (the app serves <c>AppCallback</c>) or <c>h2c</c>
    /// (HTTP over cleartext HTTP/2). See <see cref="Invocation.AppProtocols.TryParse"/> to read daprd's spelling.
    /// </summary>
    public Invocation.AppProtocol AppProtocol { get; init; } = Invocation.AppProtocol.Http;

    /// <summary><c>--dapr-http-port</c>; 0 picks a free port (read it back from <see cref="SidecarHost.HttpPort"/>).</summary>
    public int HttpPort { get; init; }

    /// <summary><c>--dapr-grpc-port</c>; 0 picks a free port (read it back from <see cref="SidecarHost.GrpcPort"/>).</summary>
    public int GrpcPort { get; init; }

    /// <summary><c>--resources-path</c>, one or more folders of Component, Subscription and Resiliency YAML.</summary>
    public IReadOnlyList<string> ResourcesPaths { get; init; } = [];

    /// <summary><c>--app-max-concurrency</c>: most calls in flight into the app at once; -1 is unlimited.</summary>
    public int AppMaxConcurrency { get; init; } = -1;

    /// <summary><c>--config</c>: a Dapr Configuration file.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>
    /// What <c>{podName}</c> in a component's <c>consumerID</c> stands for (daprd: the pod's name); default: the
    /// <c>POD_NAME</c> variable, else the machine name. The dev host passes each replica's name.
    /// </summary>
    public string? PodName { get; init; }

    /// <summary>The folder sidecars register in to find each other (default: shared per machine and user).</summary>
    public string? RegistryFolder { get; init; }

    /// <summary>The token apps must send as <c>dapr-api-token</c> (daprd's <c>DAPR_API_TOKEN</c>); none means no check.</summary>
    public string? ApiToken { get; init; }

    /// <summary>The token the sidecar sends to its app as <c>dapr-api-token</c> (daprd's <c>APP_API_TOKEN</c>).</summary>
    public string? AppApiToken { get; init; }

    /// <summary>daprd's default <c>--max-body-size</c>, 4Mi (dapr/dapr pkg/runtime/config.go <c>DefaultMaxRequestBodySize</c>).</summary>
    public const long DefaultMaxBodySize = 4 << 20;

    /// <summary>
    /// <c>--max-body-size</c>, in bytes: the largest request body the HTTP API takes and the largest message the gRPC
    /// API receives (invocations included). Larger ones are refused before anything is done with them.
    /// </summary>
    public long MaxBodySize { get; init; } = DefaultMaxBodySize;

    /// <summary>Where the sidecar logs; none by default when hosted in-process.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
