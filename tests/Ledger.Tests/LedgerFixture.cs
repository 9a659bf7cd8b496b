using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Sidecar;
using StackExchange.Redis;

namespace Platform.Ledger.Tests;

/// <summary>A real redis-server on a free port (killable, restartable on the same port).</summary>
public sealed class Redis : IAsyncDisposable
{
    private Process? _process;

    public int Port { get; } = Ports.Free();

    public string Host => $"127.0.0.1:{Port}";

    public static async Task<Redis> StartAsync()
    {
        var redis = new Redis();
        await redis.RestartAsync();
        return redis;
    }

    public async Task RestartAsync()
    {
        var exe = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server"
            : throw new InvalidOperationException("redis-server is not installed: apt-get install -y redis-server");
        _process = Process.Start(new ProcessStartInfo(exe, $"--port {Port} --bind 127.0.0.1 --save \"\" --appendonly no") { RedirectStandardOutput = true })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                await using var c = await ConnectionMultiplexer.ConnectAsync($"{Host},connectTimeout=300");
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}

public static class Ports
{
    public static int Free()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>
/// The real Ledger service on a loopback port behind its own sidecar, plus an observer app subscribed to
/// <c>ledger</c> that records every event it is delivered. State and pub/sub on separate Redis servers, so a test
/// can take the broker away while the ledger keeps accepting commands.
/// </summary>
public sealed class LedgerFixture : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _root = Directory.CreateTempSubdirectory("ledger-test-").FullName;

    public required Redis StateRedis { get; init; }

    public required Redis BrokerRedis { get; init; }

    public HttpClient Ledger { get; private set; } = null!;

    public ConcurrentQueue<JsonElement> Delivered { get; } = new();

    public static async Task<LedgerFixture> StartAsync()
    {
        var fixture = new LedgerFixture { StateRedis = await Redis.StartAsync(), BrokerRedis = await Redis.StartAsync() };
        await fixture.InitAsync();
        return fixture;
    }

    private async Task InitAsync()
    {
        var components = Directory.CreateDirectory(Path.Combine(_root, "components")).FullName;
        await File.WriteAllTextAsync(Path.Combine(components, "statestore.yaml"), Component("statestore", "state.redis", StateRedis.Host, "    - name: actorStateStore\n      value: \"true\"\n"));
        await File.WriteAllTextAsync(Path.Combine(components, "pubsub.yaml"), Component("pubsub", "pubsub.redis", BrokerRedis.Host,
            "    - name: processingTimeout\n      value: \"2s\"\n    - name: redeliverInterval\n      value: \"300ms\"\n"));
        var registry = Path.Combine(_root, "registry");

        // The observer: a plain app subscribed to the stream, as Balances or Fraud would be.
        var observer = await StartWebAsync(web =>
        {
            web.MapGet("/dapr/subscribe", () => Results.Json(new[] { new { pubsubname = "pubsub", topic = "ledger", route = "/ledger" } }));
            web.MapPost("/ledger", async (HttpRequest r) =>
            {
                var ce = await JsonSerializer.DeserializeAsync<JsonElement>(r.Body);
                Delivered.Enqueue(ce.GetProperty("data").Clone());
                return Results.Ok();
            });
        });
        await StartSidecarAsync("observer", observer, components, registry);

        // The ledger: its port is chosen first because its sidecar's address is part of its configuration.
        var ledgerPort = Ports.Free();
        var sidecar = await Sidecar.SidecarHost.StartAsync(new SidecarOptions { AppId = "ledger", AppPort = ledgerPort, ResourcesPaths = [components], RegistryFolder = registry });
        _owned.Add(sidecar);
        var app = Program.Build([
            $"--urls=http://127.0.0.1:{ledgerPort}",
            $"--DAPR_HTTP_ENDPOINT={sidecar.HttpEndpoint}",
            $"--DAPR_GRPC_ENDPOINT={sidecar.GrpcEndpoint}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        _owned.Add(app);
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(20));
        Ledger = new HttpClient { BaseAddress = new Uri($"{sidecar.HttpEndpoint}/v1.0/invoke/ledger/method/") };
    }

    private async Task<int> StartWebAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var web = builder.Build();
        map(web);
        await web.StartAsync();
        _owned.Add(web);
        return new Uri(web.Urls.First()).Port;
    }

    private async Task StartSidecarAsync(string appId, int appPort, string components, string registry)
    {
        var sidecar = await Sidecar.SidecarHost.StartAsync(new SidecarOptions { AppId = appId, AppPort = appPort, ResourcesPaths = [components], RegistryFolder = registry });
        _owned.Add(sidecar);
        await sidecar.Ready.WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static string Component(string name, string type, string host, string extra) => $"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: {type}
          version: v1
          metadata:
            - name: redisHost
              value: "{host}"
        {extra}
        """;

    public IEnumerable<JsonElement> EventsOf(string accountId) =>
        Delivered.Where(e => e.GetProperty("accountId").GetString() == accountId);

    public async ValueTask DisposeAsync()
    {
        Ledger?.Dispose();
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        await StateRedis.DisposeAsync();
        await BrokerRedis.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}

public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(25);
        }
    }
}
