using System.Collections.Concurrent;
using Platform.Sidecar.Bindings;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Tests.Bindings;

/// <summary>
/// <c>bindings.cron</c> input events delivered over the HTTP app channel as daprd delivers them
/// (dapr/dapr pkg/runtime/processor/binding/send.go): <c>POST /{route}</c> (the <c>route</c> metadata, else the
/// binding's name) with no body, <c>Content-Type: application/json</c> and the event metadata as headers; only
/// after <c>OPTIONS /{route}</c> answered 2xx or 405, unless the component's <c>direction</c> names <c>input</c>.
/// </summary>
public sealed class CronBindingTests
{
    private sealed record Hit(string Method, string Path, string? ContentType, string? ReadTimeUtc, string? TimeZone, long BodyLength);

    /// <summary>An app that records every request it gets, answering 200 on <paramref name="routes"/> (POST only) and 404 elsewhere.</summary>
    private static Task<TestApp> StartAppAsync(Cluster cluster, ConcurrentQueue<Hit> hits, params string[] routes) =>
        cluster.StartAppAsync("orders", (web, _) =>
        {
            web.Use(async (ctx, next) =>
            {
                using var body = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(body);
                hits.Enqueue(new Hit(ctx.Request.Method, ctx.Request.Path, ctx.Request.ContentType,
                    ctx.Request.Headers["readTimeUTC"].FirstOrDefault(), ctx.Request.Headers["timeZone"].FirstOrDefault(), body.Length));
                await next(ctx);
            });
            foreach (var route in routes)
            {
                web.MapPost(route, () => Results.Ok());
            }
        }, dapr: false);

    private static int Posts(ConcurrentQueue<Hit> hits, string path) => hits.Count(h => h.Method == "POST" && h.Path == path);

    [Fact]
    public async Task Every1s_DeliveredToTheAppAtLeastTwice_AsDaprdPostsIt()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var hits = new ConcurrentQueue<Hit>();
        var app = await StartAppAsync(cluster, hits, "/tick");
        cluster.WriteComponent("tick.yaml", Yaml.Component("tick", "bindings.cron", ("schedule", "@every 1s")));
        await cluster.StartSidecarAsync("orders", app);

        await Poll.UntilAsync(() => Posts(hits, "/tick") >= 2, "two cron events at /tick", TimeSpan.FromSeconds(20));

        Assert.Contains(hits, h => h.Method == "OPTIONS" && h.Path == "/tick");
        var post = hits.First(h => h.Method == "POST");
        Assert.Equal("application/json", post.ContentType);
        Assert.Equal(0, post.BodyLength);
        Assert.Equal("Local", post.TimeZone);
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$", post.ReadTimeUtc);
    }

    /// <summary>
    /// A gRPC app (<c>--app-protocol grpc</c>) names the bindings it takes in <c>ListInputBindings</c> and gets each
    /// event through <c>OnBindingEvent</c> with the binding's name and the event metadata; a binding it does not
    /// list is not delivered.
    /// </summary>
    [Fact]
    public async Task GrpcApp_ListedBindingDeliveredThroughOnBindingEvent_UnlistedNot()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("tick.yaml", Yaml.Component("tick", "bindings.cron", ("schedule", "@every 1s")));
        cluster.WriteComponent("tock.yaml", Yaml.Component("tock", "bindings.cron", ("schedule", "@every 1s")));
        var events = new ConcurrentQueue<(string Name, string? ReadTime)>();
        await cluster.StartGrpcAsync("orders", app =>
        {
            app.InputBindings = ["tick"];
            app.OnBindingEvent = (e, _) =>
            {
                events.Enqueue((e.Name, e.Metadata.TryGetValue("readTimeUTC", out var t) ? t : null));
                return Task.FromResult(new Dapr.AppCallback.Autogen.Grpc.v1.BindingEventResponse());
            };
        });

        await Poll.UntilAsync(() => events.Count(e => e.Name == "tick") >= 3, "three tick events through OnBindingEvent", TimeSpan.FromSeconds(20));

        // Three ticks of the same schedule passed, so an unlisted tock would have fired too.
        Assert.All(events, e => Assert.Equal("tick", e.Name));
        Assert.All(events, e => Assert.False(string.IsNullOrEmpty(e.ReadTime)));
    }

    [Fact]
    public async Task RouteMetadata_DeliveredThere()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var hits = new ConcurrentQueue<Hit>();
        var app = await StartAppAsync(cluster, hits, "/jobs/nightly");
        cluster.WriteComponent("nightly.yaml", Yaml.Component("nightly", "bindings.cron", ("schedule", "* * * * * *"), ("route", "/jobs/nightly")));
        await cluster.StartSidecarAsync("orders", app);

        await Poll.UntilAsync(() => Posts(hits, "/jobs/nightly") >= 2, "two cron events at /jobs/nightly", TimeSpan.FromSeconds(20));

        Assert.DoesNotContain(hits, h => h.Path == "/nightly");
    }

    [Fact]
    public async Task RouteTheAppDoesNotExpose_OptionsAnswers404_NotDelivered()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var hits = new ConcurrentQueue<Hit>();
        var app = await StartAppAsync(cluster, hits, "/tick");
        cluster.WriteComponent("tick.yaml", Yaml.Component("tick", "bindings.cron", ("schedule", "@every 1s")));
        cluster.WriteComponent("orphan.yaml", Yaml.Component("orphan", "bindings.cron", ("schedule", "@every 1s")));
        await cluster.StartSidecarAsync("orders", app);

        // The binding the app exposes fires three times meanwhile: the other had every chance to be delivered.
        await Poll.UntilAsync(() => Posts(hits, "/tick") >= 3, "three cron events at /tick", TimeSpan.FromSeconds(20));

        Assert.Single(hits, h => h.Method == "OPTIONS" && h.Path == "/orphan");
        Assert.Equal(0, Posts(hits, "/orphan"));
    }

    [Fact]
    public async Task DirectionInput_NoProbe_DeliveredEvenWhereTheAppAnswers404()
    {
        // isBindingOfExplicitDirection: daprd does not ask the app; a non-2xx answer is only logged.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var hits = new ConcurrentQueue<Hit>();
        var app = await StartAppAsync(cluster, hits);
        cluster.WriteComponent("tick.yaml", Yaml.Component("tick", "bindings.cron", ("schedule", "@every 1s"), ("direction", "input")));
        await cluster.StartSidecarAsync("orders", app);

        await Poll.UntilAsync(() => Posts(hits, "/tick") >= 2, "two cron events at /tick", TimeSpan.FromSeconds(20));

        Assert.DoesNotContain(hits, h => h.Method == "OPTIONS");
    }

    [Fact]
    public async Task DirectionOutput_CronNotRead()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var hits = new ConcurrentQueue<Hit>();
        var app = await StartAppAsync(cluster, hits, "/tick", "/out");
        cluster.WriteComponent("tick.yaml", Yaml.Component("tick", "bindings.cron", ("schedule", "@every 1s")));
        cluster.WriteComponent("out.yaml", Yaml.Component("out", "bindings.cron", ("schedule", "@every 1s"), ("direction", "output")));
        await cluster.StartSidecarAsync("orders", app);

        await Poll.UntilAsync(() => Posts(hits, "/tick") >= 3, "three cron events at /tick", TimeSpan.FromSeconds(20));

        Assert.DoesNotContain(hits, h => h.Path == "/out");
    }

    [Theory]
    [InlineData("61 * * * * *", "end of range (61) above maximum (59)")]
    [InlineData("* * * *", "expected 5 to 6 fields, found 4")]
    [InlineData("@fortnightly", "unrecognized descriptor: @fortnightly")]
    [InlineData("@every 15", "failed to parse duration @every 15")]
    public async Task BadSchedule_StartRefusedNamingIt(string schedule, string reason)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("tick.yaml", Yaml.Component("tick", "bindings.cron", ("schedule", schedule)));

        var e = await Assert.ThrowsAsync<ResourceException>(() => cluster.StartSidecarAsync("orders"));

        Assert.Equal("spec.metadata[schedule]", e.Field);
        Assert.Contains($"invalid schedule format '{schedule}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*/15 * * * * *", "2026-03-04 10:20:07", "2026-03-04 10:20:15")]
    [InlineData("0 30 9 * * mon-fri", "2026-03-06 09:30:00", "2026-03-09 09:30:00")] // Friday → Monday
    [InlineData("30 9 * * *", "2026-03-04 10:00:00", "2026-03-05 09:30:00")] // five fields: seconds 0
    [InlineData("@daily", "2026-03-04 10:00:00", "2026-03-05 00:00:00")]
    [InlineData("@hourly", "2026-03-04 10:00:00", "2026-03-04 11:00:00")]
    [InlineData("@weekly", "2026-03-04 10:00:00", "2026-03-08 00:00:00")] // Sunday
    [InlineData("@monthly", "2026-03-04 10:00:00", "2026-04-01 00:00:00")]
    [InlineData("@yearly", "2026-03-04 10:00:00", "2027-01-01 00:00:00")]
    [InlineData("0 0 0 13 * fri", "2026-03-04 10:00:00", "2026-03-06 00:00:00")] // both day fields: either matches
    [InlineData("0 0 12 ? JAN,jul *", "2026-03-04 10:00:00", "2026-07-01 12:00:00")]
    [InlineData("TZ=UTC 0 5/20 * * * *", "2026-03-04 10:26:00", "2026-03-04 10:45:00")]
    [InlineData("@every 1m30s", "2026-03-04 10:00:00.250", "2026-03-04 10:01:30.250")]
    public void Schedule_NextAsDaprKitComputesIt(string spec, string after, string expected)
    {
        var schedule = CronSchedule.Parse(spec.StartsWith("TZ=", StringComparison.Ordinal) ? spec : "TZ=UTC " + spec);
        var from = DateTimeOffset.Parse(after + "Z", System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(DateTimeOffset.Parse(expected + "Z", System.Globalization.CultureInfo.InvariantCulture), schedule.Next(from));
    }
}
