using System.Diagnostics;
using System.Text.Json;
using Platform.Sidecar;

namespace Platform.Live.Bench;

/// <summary>One sidecar as the <c>sidecars</c> process reports it.</summary>
public sealed record SidecarEndpoints(string AppId, int? AppPort, string Http, string Grpc);

/// <summary>
/// <c>Platform.Live.Bench sidecars --components DIR --registry DIR --app ID[:PORT]...</c>: every dev/Sidecar of a
/// scenario in one process of their own. They must share a process: the bus is <c>pubsub.in-memory</c>, which the
/// sidecars of one process share (dev/Sidecar/README.md). One sidecar per <c>dev/Sidecar.Cli</c> process would need
/// <c>pubsub.redis</c> and a redis-server, adding Redis Streams hops (and redis-server's CPU) to the path measured.
/// Writes one <see cref="SidecarEndpoints"/> JSON line per sidecar, then <c>{"started":true}</c>; stops when its
/// standard input closes.
/// </summary>
public static class SidecarsCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? components = null, registry = null;
        var apps = new List<(string AppId, int? Port)>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--components":
                    components = args[i + 1];
                    break;
                case "--registry":
                    registry = args[i + 1];
                    break;
                case "--app":
                    var colon = args[i + 1].IndexOf(':', StringComparison.Ordinal);
                    apps.Add(colon < 0 ? (args[i + 1], null) : (args[i + 1][..colon], int.Parse(args[i + 1][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
                    break;
            }
        }

        if (components is null || registry is null || apps.Count == 0)
        {
            await Console.Error.WriteLineAsync("usage: Platform.Live.Bench sidecars --components DIR --registry DIR --app ID[:PORT]...");
            return 2;
        }

        var sidecars = new List<SidecarHost>();
        try
        {
            foreach (var (appId, port) in apps)
            {
                var sidecar = await SidecarHost.StartAsync(new SidecarOptions
                {
                    AppId = appId, AppPort = port, ResourcesPaths = [components], RegistryFolder = registry, PodName = $"{appId}-{port}",
                });
                sidecars.Add(sidecar);
                Send(new SidecarEndpoints(appId, port, sidecar.HttpEndpoint, sidecar.GrpcEndpoint));
            }

            Send(new { started = true });
            while (await Console.In.ReadLineAsync() is not null)
            {
            }
        }
        finally
        {
            foreach (var sidecar in sidecars)
            {
                await sidecar.DisposeAsync();
            }
        }

        return 0;
    }

    private static void Send<T>(T message)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(message, JsonSerializerOptions.Web));
        Console.Out.Flush();
    }
}

/// <summary>The bench's side of the <c>sidecars</c> process.</summary>
public sealed class SidecarsProcess : IAsyncDisposable
{
    private readonly Process _process;

    private SidecarsProcess(Process process, IReadOnlyList<SidecarEndpoints> sidecars)
    {
        _process = process;
        Sidecars = sidecars;
    }

    public IReadOnlyList<SidecarEndpoints> Sidecars { get; }

    public SidecarEndpoints For(string appId, int? port) => Sidecars.Single(s => s.AppId == appId && s.AppPort == port);

    public static async Task<SidecarsProcess> StartAsync(string components, string registry, IEnumerable<(string AppId, int? Port)> apps)
    {
        string[] arguments = ["--components", components, "--registry", registry, .. apps.SelectMany(a => new[] { "--app", a.Port is { } p ? $"{a.AppId}:{p}" : a.AppId })];
        var process = BenchChild.Start("sidecars", arguments);
        var sidecars = new List<SidecarEndpoints>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains("\"started\"", StringComparison.Ordinal))
            {
                return new SidecarsProcess(process, sidecars);
            }

            if (line.StartsWith('{'))
            {
                sidecars.Add(JsonSerializer.Deserialize<SidecarEndpoints>(line, JsonSerializerOptions.Web)!);
            }
        }

        throw new InvalidOperationException("the sidecars process ended before starting them all");
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public TimeSpan CpuTime() => BenchChild.CpuTime(_process);

    public ValueTask DisposeAsync() => BenchChild.StopAsync(_process, TimeSpan.FromSeconds(15));
}
