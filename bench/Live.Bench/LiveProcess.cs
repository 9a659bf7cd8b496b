using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Platform.Live.Bench;

/// <summary>One Live replica: the built Platform.Live.dll as its own process, talking to its sidecar in the sidecars process.</summary>
public sealed class LiveProcess : IAsyncDisposable
{
    private readonly Process _process;

    private LiveProcess(Process process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}/";
    }

    public string Url { get; }

    public int Pid => _process.Id;

    public static LiveProcess Start(string dll, string appId, string role, int port, SidecarEndpoints sidecar)
    {
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["DAPR_HTTP_ENDPOINT"] = sidecar.Http;
        start.Environment["DAPR_GRPC_ENDPOINT"] = sidecar.Grpc;
        start.Environment["Live__Role"] = role;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) { Console.Error.WriteLine($"[{appId} {process.Id}] {line}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new LiveProcess(process, port);
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
