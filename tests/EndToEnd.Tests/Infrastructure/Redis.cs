using StackExchange.Redis;

namespace Platform.EndToEnd.Tests.Infrastructure;

/// <summary>A real redis-server on a free port, owned by one platform (nothing persisted, nothing shared).</summary>
public sealed class Redis : IAsyncDisposable
{
    private readonly Process _process;

    private Redis(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    /// <summary>CPU time redis-server has used so far.</summary>
    public TimeSpan Cpu => _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;

    public static async Task<Redis> StartAsync()
    {
        var exe = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: run `apt-get install -y redis-server` (./test.sh does it)");
        for (var attempt = 1; ; attempt++)
        {
            var port = Ports.Free();
            var process = Process.Start(new ProcessStartInfo(exe, $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode no")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    await using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=500,abortConnect=true");
                    return new Redis(process, port);
                }
                catch (RedisConnectionException)
                {
                    await Task.Delay(50);
                }
            }

            // Another process took the port between our probe and redis binding it: try another one.
            process.Kill();
            if (attempt == 3)
            {
                throw new InvalidOperationException("redis-server did not start on a free port in 3 attempts");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
