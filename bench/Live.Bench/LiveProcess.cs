using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Platform.Sidecar;

namespace Platform.Live.Bench;

/// <summary>One Live replica: the built Platform.Live.dll as its own process, with its sidecar in this process.</summary>
public sealed class LiveProcess : IAsyncDisposable
{
    private readonly Process _process;

    private LiveProcess(Process process, Platform.Sidecar.SidecarHost sidecar, int port)
    {
        _process = process;
        Sidecar = sidecar;
        Url = $"http://127.0.0.1:{port}/";
    }

    public Platform.Sidecar.SidecarHost Sidecar { get; }

    public string Url { get; }

    public int Pid => _process.Id;

    public static async Task<LiveProcess> StartAsync(string dll, string appId, string role, string components, string registry)
    {
        var port = FreePort();
        var sidecar = await Platform.Sidecar.SidecarHost.StartAsync(new SidecarOptions
        {
            AppId = appId, AppPort = port, ResourcesPaths = [components], RegistryFolder = registry, PodName = $"{appId}-{port}",
        });
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["DAPR_HTTP_ENDPOINT"] = sidecar.HttpEndpoint;
        start.Environment["DAPR_GRPC_ENDPOINT"] = sidecar.GrpcEndpoint;
        start.Environment["Live__Role"] = role;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) { Console.Error.WriteLine($"[{appId} {process.Id}] {line}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(60));
        return new LiveProcess(process, sidecar, port);
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
