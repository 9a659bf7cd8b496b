using System.Diagnostics;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Platform.Balances.Tests.Infrastructure;

/// <summary>A real redis-server on a free port, owned by one test (nothing persisted, nothing shared).</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port, ConnectionMultiplexer connection)
    {
        _process = process;
        Port = port;
        Connection = connection;
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer Connection { get; }

    public IDatabase Db => Connection.GetDatabase();

    public static async Task<RedisServer> StartAsync()
    {
        var exe = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: run `apt-get install -y redis-server` (./test.sh does it)");
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var process = Process.Start(new ProcessStartInfo(exe, $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode no")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            process.OutputDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=500,abortConnect=true");
                    return new RedisServer(process, port, connection);
                }
                catch (RedisConnectionException)
                {
                    await Task.Delay(50);
                }
            }

            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
            if (attempt == 3)
            {
                throw new InvalidOperationException($"redis-server did not start (last port tried: {port})");
            }
        }
    }

    /// <summary>Every key matching <paramref name="pattern"/> with its <c>data</c> field (Dapr's state layout: a hash per key).</summary>
    public async Task<Dictionary<string, string>> ReadStateAsync(string pattern)
    {
        var server = Connection.GetServer(Host);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 500))
        {
            result[key!] = (string?)await Db.HashGetAsync(key, "data") ?? "";
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.CloseAsync();
        Connection.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
