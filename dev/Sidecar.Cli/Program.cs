using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Platform.Sidecar;
using Platform.Sidecar.Resources;

// A daprd stand-in for machines without the Dapr runtime. Flags follow daprd's; run with --help for the list.
var parsed = CommandLine.Parse(args);
if (parsed.Error is { } error)
{
    Console.Error.WriteLine($"error: {error}");
    Console.Error.WriteLine(CommandLine.Usage);
    return 2;
}

if (parsed.Help)
{
    Console.WriteLine(CommandLine.Usage);
    return 0;
}

using var loggerFactory = LoggerFactory.Create(b => b
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    })
    .SetMinimumLevel(parsed.LogLevel));
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) =>
{
    try
    {
        stop.Cancel();
    }
    catch (ObjectDisposedException)
    {
        // Already stopped.
    }
};

// The web host's console lifetime also takes SIGTERM: it cancels the default exit (so ProcessExit never comes)
// and stops only the listeners. Stop the whole sidecar, as daprd does on SIGTERM.
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});

SidecarHost sidecar;
try
{
    sidecar = await SidecarHost.StartAsync(parsed.Options! with { LoggerFactory = loggerFactory }, stop.Token);
}
catch (Exception e) when (e is ResourceException or Platform.Sidecar.Invocation.RegistryFolderException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"error: {e}");
    return 1;
}

await using (sidecar)
{
    // One line a supervisor (dev/Host, a test) can read the ports from, whatever ports were asked for.
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"sidecar ready: app-id={sidecar.AppId} http-port={sidecar.HttpPort} grpc-port={sidecar.GrpcPort}"));
    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, sidecar.ShutdownRequested);
    try
    {
        await Task.Delay(Timeout.Infinite, linked.Token);
    }
    catch (OperationCanceledException)
    {
    }

    Console.WriteLine($"sidecar {sidecar.AppId} stopping");
}

return 0;

internal sealed record Parsed(SidecarOptions? Options, bool Help, string? Error, LogLevel LogLevel);

internal static class CommandLine
{
    public const string Usage = """
        usage: Platform.Sidecar.Cli --app-id <id> [options]
          --app-id <id>                 the app's id (required)
          --app-port <port>             where the app listens (omit for an app that only calls out)
          --app-channel-address <host>  the app's host (default 127.0.0.1)
          --app-protocol <protocol>     how to reach the app: http (default), grpc, h2c
          --dapr-http-port <port>       HTTP API port (default 3500; 0 = any free port)
          --dapr-grpc-port <port>       gRPC API port (default 50001; 0 = any free port)
          --resources-path <dir>        folder of component YAML; repeat for several (default ./components if present)
          --app-max-concurrency <n>     most calls into the app at once (default -1, unlimited)
          --config <file>               Dapr Configuration file
          --max-body-size <quantity>    largest request body / gRPC message, e.g. 4Mi (default), 16Mi, 1k
          --log-level <level>           debug, info (default), warn, error
        """;

    public static Parsed Parse(string[] args)
    {
        string? appId = null, channel = null, config = null;
        int? appPort = null;
        var appProtocol = Platform.Sidecar.Invocation.AppProtocol.Http;
        int http = 3500, grpc = 50001, maxConcurrency = -1;
        var maxBodySize = SidecarOptions.DefaultMaxBodySize;
        var resources = new List<string>();
        var level = LogLevel.Information;
        for (var i = 0; i < args.Length; i++)
        {
            var flag = args[i];
            if (flag is "-h" or "--help")
            {
                return new Parsed(null, true, null, level);
            }

            var eq = flag.IndexOf('=', StringComparison.Ordinal);
            string? value;
            if (eq > 0)
            {
                value = flag[(eq + 1)..];
                flag = flag[..eq];
            }
            else
            {
                value = i + 1 < args.Length ? args[++i] : null;
            }

            if (value is null)
            {
                return Fail($"{flag} needs a value");
            }

            switch (flag)
            {
                case "--app-id":
                    appId = value;
                    break;
                case "--app-port":
                    if (!Port(value, out var p) || p == 0)
                    {
                        return Fail($"--app-port '{value}' is not a port number");
                    }

                    appPort = p;
                    break;
                case "--app-protocol":
                    if (!Platform.Sidecar.Invocation.AppProtocols.TryParse(value, out appProtocol))
                    {
                        return Fail(Platform.Sidecar.Invocation.AppProtocols.Invalid(value));
                    }

                    break;
                case "--app-channel-address":
                    channel = value;
                    break;
                case "--dapr-http-port":
                    if (!Port(value, out http))
                    {
                        return Fail($"--dapr-http-port '{value}' is not a port number");
                    }

                    break;
                case "--dapr-grpc-port":
                    if (!Port(value, out grpc))
                    {
                        return Fail($"--dapr-grpc-port '{value}' is not a port number");
                    }

                    break;
                case "--resources-path" or "--components-path":
                    resources.Add(value);
                    break;
                case "--app-max-concurrency":
                    if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out maxConcurrency) || maxConcurrency is 0 or < -1)
                    {
                        return Fail($"--app-max-concurrency '{value}' must be a positive number or -1");
                    }

                    break;
                case "--config":
                    config = value;
                    break;
                case "--max-body-size":
                    if (!Quantity.TryParseBytes(value, out maxBodySize) || maxBodySize <= 0)
                    {
                        return Fail($"--max-body-size '{value}' is not a positive size such as 4Mi, 16Mi or 1k");
                    }

                    break;
                case "--dapr-http-max-request-size":
                    // daprd's older flag, in MB; --max-body-size wins when both are given (as in daprd).
                    if (!args.Any(a => a.StartsWith("--max-body-size", StringComparison.Ordinal)))
                    {
                        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var mb) || mb <= 0)
                        {
                            return Fail($"--dapr-http-max-request-size '{value}' is not a positive number of MB");
                        }

                        maxBodySize = (long)mb << 20;
                    }

                    break;
                case "--log-level":
                    level = value switch
                    {
                        "debug" => LogLevel.Debug,
                        "info" => LogLevel.Information,
                        "warn" => LogLevel.Warning,
                        "error" => LogLevel.Error,
                        _ => (LogLevel)(-1),
                    };
                    if ((int)level < 0)
                    {
                        return Fail($"--log-level '{value}' is not debug, info, warn or error");
                    }

                    break;
                default:
                    return Fail($"unknown flag {flag}");
            }
        }

        if (string.IsNullOrWhiteSpace(appId))
        {
            return Fail("--app-id is required");
        }

        if (resources.Count == 0 && Directory.Exists("components"))
        {
            resources.Add("components");
        }

        return new Parsed(new SidecarOptions
        {
            AppId = appId,
            AppPort = appPort,
            AppChannelAddress = channel ?? "127.0.0.1",
            AppProtocol = appProtocol,
            HttpPort = http,
            GrpcPort = grpc,
            ResourcesPaths = resources,
            AppMaxConcurrency = maxConcurrency,
            ConfigPath = config,
            MaxBodySize = maxBodySize,
        }, false, null, level);

        Parsed Fail(string message) => new(null, false, message, level);
    }

    private static bool Port(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 0 and <= 65535;
}
