using System.Diagnostics;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>A real redis-server on a free port, for the tests that claim Redis semantics.</summary>
public sealed class RedisServer : IAsyncLifetime
{
    private Process? _process;

    public int Port { get; private set; }

    public string Host => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer? Connection { get; private set; }

    public IDatabase Db => Connection!.GetDatabase();

    public async Task InitializeAsync() => await StartAsync();

    public async Task StartAsync()
    {
        var exe = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: run `apt-get install -y redis-server` (the test command in the README does it)");
        for (var attempt = 0; ; attempt++)
        {
            Port = Port == 0 || attempt > 0 ? FreePort() : Port;
            _process = Process.Start(new ProcessStartInfo(exe, $"--port {Port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode no")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            _process.OutputDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                try
                {
                    Connection = await ConnectionMultiplexer.ConnectAsync($"{Host},connectTimeout=500,abortConnect=true");
                    return;
                }
                catch (RedisConnectionException)
                {
                    await Task.Delay(50);
                }
            }

            if (attempt == 3)
            {
                throw new InvalidOperationException($"redis-server did not start on port {Port}");
            }
        }
    }

    /// <summary>Kills the server (nothing persisted) — for restart tests use <see cref="StartAsync"/> afterwards on the same port.</summary>
    public async Task StopAsync()
    {
        if (Connection is not null)
        {
            await Connection.CloseAsync();
            Connection.Dispose();
            Connection = null;
        }

        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public Task DisposeAsync() => StopAsync();

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServer>
{
    public const string Name = "redis";
}
