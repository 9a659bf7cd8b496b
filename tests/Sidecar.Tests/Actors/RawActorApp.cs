using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>
/// An actor app written against the callback contract directly, without the .NET SDK (whose own per-actor lock
/// would hide the sidecar's): it records every callback and how many calls overlap, per actor and in all.
/// Type <see cref="TypeName"/> methods: <c>work</c> (takes a while), <c>recurse</c> (calls itself through the sidecar,
/// passing <c>Dapr-Reentrancy-Id</c> on, <c>depth</c> levels deep).
/// </summary>
public sealed class RawActorApp : IAsyncDisposable
{
    public const string TypeName = "RawActor";

    private readonly WebApplication _app;
    private readonly HttpClient _client = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private int _inFlightAll;

    private RawActorApp(WebApplication app) => _app = app;

    public int Port => new Uri(_app.Urls.First()).Port;

    /// <summary>Where the sidecar listens; set once it runs (read per request, so it may come after the app started).</summary>
    public string? SidecarEndpoint { get; set; }

    public int MaxInFlightPerActor { get; private set; }

    public int MaxInFlightAll { get; private set; }

    public ConcurrentQueue<(string Path, string Body)> Callbacks { get; } = new();

    public static async Task<RawActorApp> StartAsync(bool reentrant, int maxStackDepth = 32, string idleTimeout = "1h0m0s0ms")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var raw = new RawActorApp(app);
        app.MapGet("/dapr/config", () => Results.Json(new
        {
            entities = new[] { TypeName },
            actorIdleTimeout = idleTimeout,
            actorScanInterval = "0h0m0s100ms",
            reentrancy = new { enabled = reentrant, maxStackDepth },
        }));
        app.MapPut("/actors/{type}/{id}/method/remind/{name}", raw.Record);
        app.MapPut("/actors/{type}/{id}/method/timer/{name}", raw.Record);
        app.MapDelete("/actors/{type}/{id}", raw.Record);
        app.MapPut("/actors/{type}/{id}/method/work", raw.Work);
        app.MapPut("/actors/{type}/{id}/method/recurse", raw.Recurse);
        app.MapPut("/actors/{type}/{id}/method/flaky", (string id) => raw.Flaky(id, failures: 2));
        app.MapPut("/actors/{type}/{id}/method/broken", (string id) => raw.Flaky(id, failures: int.MaxValue));
        await app.StartAsync();
        return raw;
    }

    private async Task Record(HttpContext ctx)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        Callbacks.Enqueue(($"{ctx.Request.Method} {ctx.Request.Path}", await reader.ReadToEndAsync()));
        ctx.Response.StatusCode = 200;
    }

    private async Task<IResult> Work(string id)
    {
        var mine = _inFlight.AddOrUpdate(id, 1, (_, n) => n + 1);
        var all = Interlocked.Increment(ref _inFlightAll);
        lock (_inFlight)
        {
            MaxInFlightPerActor = Math.Max(MaxInFlightPerActor, mine);
            MaxInFlightAll = Math.Max(MaxInFlightAll, all);
        }

        // Long enough for overlapping calls to be seen, were the sidecar to let them overlap.
        await Task.Delay(25);
        _inFlight.AddOrUpdate(id, 0, (_, n) => n - 1);
        Interlocked.Decrement(ref _inFlightAll);
        return Results.Json(new { id });
    }

    /// <summary>Calls of the flaky methods per actor id: <c>flaky</c> fails the first two calls of each id with 500, <c>broken</c> all.</summary>
    public ConcurrentDictionary<string, int> FlakyCalls { get; } = new(StringComparer.Ordinal);

    private IResult Flaky(string id, int failures)
    {
        var n = FlakyCalls.AddOrUpdate(id, 1, (_, c) => c + 1);
        return n <= failures ? Results.StatusCode(500) : Results.Json(new { id, call = n });
    }

    private async Task Recurse(HttpContext ctx, string id)
    {
        var body = await JsonSerializer.DeserializeAsync<JsonElement>(ctx.Request.Body);
        var depth = body.GetProperty("depth").GetInt32();
        if (depth <= 0)
        {
            await ctx.Response.WriteAsJsonAsync(new { reentrancyId = ctx.Request.Headers["Dapr-Reentrancy-Id"].ToString() });
            return;
        }

        using var request = new HttpRequestMessage(HttpMethod.Put, $"{SidecarEndpoint}/v1.0/actors/{TypeName}/{id}/method/recurse")
        {
            Content = JsonContent.Create(new { depth = depth - 1 }),
        };
        request.Headers.Add("Dapr-Reentrancy-Id", ctx.Request.Headers["Dapr-Reentrancy-Id"].ToString());
        using var response = await _client.SendAsync(request);
        ctx.Response.StatusCode = (int)response.StatusCode;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _client.Dispose();
    }
}
