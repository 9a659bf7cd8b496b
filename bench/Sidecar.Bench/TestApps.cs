using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.Bench;

/// <summary>A minimal-API Kestrel app on 127.0.0.1 and a free port, without logging.</summary>
internal sealed class TestApp : IAsyncDisposable
{
    private readonly WebApplication _web;

    private TestApp(WebApplication web, int port)
    {
        _web = web;
        Port = port;
    }

    public int Port { get; }

    public string BaseAddress => $"http://127.0.0.1:{Port}";

    public static async Task<TestApp> StartAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        ListenOptions? listen = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0, l =>
            {
                l.Protocols = HttpProtocols.Http1;
                listen = l;
            });
        });
        var web = builder.Build();
        map(web);
        await web.StartAsync();
        return new TestApp(web, ((IPEndPoint)listen!.EndPoint).Port);
    }

    /// <summary>POST /echo answers the request body with its content type.</summary>
    public static Task<TestApp> StartEchoAsync() => StartAsync(web => web.MapPost("/echo", async ctx =>
    {
        var length = (int)(ctx.Request.ContentLength ?? 0);
        var buffer = new byte[length];
        await ctx.Request.Body.ReadExactlyAsync(buffer, ctx.RequestAborted);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = ctx.Request.ContentType;
        ctx.Response.ContentLength = length;
        await ctx.Response.Body.WriteAsync(buffer, ctx.RequestAborted);
    }));

    public async ValueTask DisposeAsync()
    {
        await _web.StopAsync();
        await _web.DisposeAsync();
    }
}

/// <summary>
/// The subscribing app: <c>GET /dapr/subscribe</c> names one topic routed to <c>/t</c>; <c>POST /t</c> reads the
/// CloudEvent's <c>data.seq</c>, counts each sequence number once (redeliveries are counted apart) and answers
/// 200 with an empty body.
/// </summary>
internal sealed class DeliverySink
{
    private readonly Lock _gate = new();
    private bool[] _seen = [];
    private int _first;
    private int _expected;
    private int _unique;
    private TaskCompletionSource<long> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Duplicates;
    public long Deliveries;

    /// <summary>Starts counting sequence numbers <paramref name="first"/> .. first+count-1; others are ignored.</summary>
    public void Expect(int first, int count)
    {
        lock (_gate)
        {
            _first = first;
            _seen = new bool[count];
            _expected = count;
            _unique = 0;
            Duplicates = 0;
            Deliveries = 0;
            _done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public int Unique
    {
        get
        {
            lock (_gate)
            {
                return _unique;
            }
        }
    }

    /// <summary>Completes with the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the last new delivery.</summary>
    public Task<long> AllDelivered
    {
        get
        {
            lock (_gate)
            {
                return _done.Task;
            }
        }
    }

    public void Map(WebApplication web, string pubsub, string topic)
    {
        var subscribe = JsonSerializer.SerializeToUtf8Bytes(new[] { new { pubsubname = pubsub, topic, route = "/t" } });
        web.MapGet("/dapr/subscribe", async ctx =>
        {
            ctx.Response.ContentType = "application/json";
            await ctx.Response.Body.WriteAsync(subscribe);
        });
        web.MapPost("/t", async ctx =>
        {
            var length = (int)(ctx.Request.ContentLength ?? 0);
            var buffer = new byte[length];
            await ctx.Request.Body.ReadExactlyAsync(buffer, ctx.RequestAborted);
            var seq = ReadSeq(buffer);
            Record(seq);
            ctx.Response.StatusCode = 200;
        });
    }

    private void Record(int seq)
    {
        Interlocked.Increment(ref Deliveries);
        lock (_gate)
        {
            seq -= _first;
            if (seq < 0 || seq >= _seen.Length)
            {
                return; // an event of an earlier round, redelivered late
            }

            if (_seen[seq])
            {
                Duplicates++;
                return;
            }

            _seen[seq] = true;
            if (++_unique == _expected)
            {
                _done.TrySetResult(System.Diagnostics.Stopwatch.GetTimestamp());
            }
        }
    }

    private static int ReadSeq(byte[] cloudEvent)
    {
        using var doc = JsonDocument.Parse(cloudEvent);
        return doc.RootElement.TryGetProperty("data", out var data) && data.TryGetProperty("seq", out var seq) ? seq.GetInt32() : -1;
    }
}
