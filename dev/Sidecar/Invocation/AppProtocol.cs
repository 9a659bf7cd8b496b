namespace Platform.Sidecar.Invocation;

/// <summary>
/// How the sidecar talks to its app: daprd's <c>--app-protocol</c> (dapr/dapr <c>pkg/config/protocol</c>). daprd also
/// knows <c>https</c> and <c>grpcs</c> (TLS to the app); this sidecar does not.
/// </summary>
public enum AppProtocol
{
    /// <summary><c>http</c> (the default): HTTP/1.1 to the app.</summary>
    Http,

    /// <summary><c>grpc</c>: the app serves <c>dapr.proto.runtime.v1.AppCallback</c> over HTTP/2 without TLS.</summary>
    Grpc,

    /// <summary><c>h2c</c>: the HTTP app channel over cleartext HTTP/2 (prior knowledge).</summary>
    H2c,
}

/// <summary>Parsing and naming of <see cref="AppProtocol"/> as daprd spells it.</summary>
public static class AppProtocols
{
    /// <summary>The values <c>--app-protocol</c> takes here.</summary>
    public const string Accepted = "http, grpc, h2c";

    /// <summary>Reads a value of <c>--app-protocol</c>; case does not matter, as in daprd (pkg/runtime/config.go).</summary>
    public static bool TryParse(string? text, out AppProtocol protocol)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "http":
                protocol = AppProtocol.Http;
                return true;
            case "grpc":
                protocol = AppProtocol.Grpc;
                return true;
            case "h2c":
                protocol = AppProtocol.H2c;
                return true;
            default:
                protocol = AppProtocol.Http;
                return false;
        }
    }

    /// <summary>daprd's error for a value it does not know, with the values this sidecar takes.</summary>
    public static string Invalid(string? text) =>
        $"invalid value for 'app-protocol': {text} (accepted: {Accepted}; daprd's https and grpcs need TLS to the app, which this sidecar does not do)";

    /// <summary>The value as daprd's metadata API reports it (<c>appConnectionProperties.protocol</c>).</summary>
    public static string Name(this AppProtocol protocol) => protocol switch
    {
        AppProtocol.Grpc => "grpc",
        AppProtocol.H2c => "h2c",
        _ => "http",
    };
}
