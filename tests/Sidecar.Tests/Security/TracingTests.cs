using System.Collections.Concurrent;
using System.Diagnostics;
using Dapr;

namespace Platform.Sidecar.Tests.Security;

/// <summary>W3C trace context across every hop the sidecars make, and span export over OTLP.</summary>
public sealed class TracingTests
{
    private static readonly string TraceId = ActivityTraceId.CreateRandom().ToString();
    private static readonly string SpanId = ActivitySpanId.CreateRandom().ToString();

    [Fact]
    public async Task Invocation_ThroughTwoSidecars_KeepsTraceIdWithNewSpan()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var seen = new ConcurrentQueue<string>();
        await cluster.StartAsync("pricing", (web, _) => web.MapPost("/quote", (HttpRequest r) =>
        {
            seen.Enqueue(r.Headers["traceparent"].ToString());
            return Results.Ok();
        }));
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1.0/invoke/pricing/method/quote");
        request.Headers.Add("traceparent", $"00-{TraceId}-{SpanId}-01");

        (await http.SendAsync(request)).EnsureSuccessStatusCode();

        var parts = Assert.Single(seen).Split('-');
        Assert.Equal(TraceId, parts[1]);
        Assert.NotEqual(SpanId, parts[2]);
    }

    [Fact]
    public async Task PubSub_PublishToDelivery_KeepsTraceId()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var seen = new ConcurrentQueue<string>();
        await cluster.StartAsync("billing", (web, _) => web.MapPost("/placed", (HttpRequest r) =>
        {
            seen.Enqueue(r.Headers["traceparent"].ToString());
            return Results.Ok();
        }).WithTopic("pubsub", "traced"));
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1.0/publish/pubsub/traced") { Content = JsonContent.Create(new { id = 1 }) };
        request.Headers.Add("traceparent", $"00-{TraceId}-{SpanId}-01");

        (await http.SendAsync(request)).EnsureSuccessStatusCode();

        await Poll.UntilAsync(() => !seen.IsEmpty, "the delivery");
        Assert.Equal(TraceId, seen.Single().Split('-')[1]);
    }

    [Fact]
    public async Task OtlpEndpointConfigured_SpansExported_WithTheAppId()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (batches, config) = await StartCollectorAsync(cluster);
        await cluster.StartAsync("pricing", (web, _) => web.MapPost("/quote", () => Results.Ok()));
        var orders = await cluster.StartSidecarAsync("orders-traced", configure: o => o with { ConfigPath = config });
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        (await http.PostAsync("/v1.0/invoke/pricing/method/quote", null)).EnsureSuccessStatusCode();

        await Poll.UntilAsync(() => batches.Any(b => Encoding.UTF8.GetString(b).Contains("orders-traced", StringComparison.Ordinal)), "an OTLP export naming the app");
        Assert.Contains(batches, b => Encoding.UTF8.GetString(b).Contains("CallRemote/pricing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ThreeServices_OneRequest_OneTraceAtEveryHopAndInEveryExport()
    {
        // web → orders → pricing: each app forwards the traceparent it received, as instrumented apps do.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (batches, config) = await StartCollectorAsync(cluster);
        Func<SidecarOptions, SidecarOptions> traced = o => o with { ConfigPath = config };
        var seen = new ConcurrentQueue<string>();
        await cluster.StartAsync("pricing3", (web, _) => web.MapPost("/quote", (HttpRequest r) =>
        {
            seen.Enqueue("pricing:" + r.Headers["traceparent"]);
            return Results.Ok();
        }), configure: traced);
        SidecarHost? ordersSidecar = null;
        await cluster.StartAsync("orders3", (web, _) => web.MapPost("/order", async (HttpRequest r) =>
        {
            seen.Enqueue("orders:" + r.Headers["traceparent"]);
            using var http = new HttpClient();
            using var next = new HttpRequestMessage(HttpMethod.Post, $"{ordersSidecar!.HttpEndpoint}/v1.0/invoke/pricing3/method/quote");
            next.Headers.Add("traceparent", r.Headers["traceparent"].ToString());
            (await http.SendAsync(next)).EnsureSuccessStatusCode();
            return Results.Ok();
        }), configure: traced);
        ordersSidecar = cluster.Sidecars("orders3").Single();
        var web = await cluster.StartSidecarAsync("web3", configure: traced);
        using var client = new HttpClient { BaseAddress = new Uri(web.HttpEndpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1.0/invoke/orders3/method/order");
        request.Headers.Add("traceparent", $"00-{TraceId}-{SpanId}-01");

        (await client.SendAsync(request)).EnsureSuccessStatusCode();

        Assert.Equal(2, seen.Count);
        Assert.All(seen, s => Assert.Equal(TraceId, s.Split(':')[1].Split('-')[1]));
        var traceBytes = Convert.FromHexString(TraceId);
        foreach (var service in new[] { "web3", "orders3", "pricing3" })
        {
            await Poll.UntilAsync(() => batches.Any(b => Encoding.UTF8.GetString(b).Contains(service, StringComparison.Ordinal)), $"spans exported by {service}");
            Assert.All(batches.Where(b => Encoding.UTF8.GetString(b).Contains(service, StringComparison.Ordinal)),
                b => Assert.True(b.AsSpan().IndexOf(traceBytes) >= 0, $"{service} exported a span outside the trace"));
        }
    }

    /// <summary>An in-process OTLP/HTTP receiver, and a Configuration that sends every span to it.</summary>
    private static async Task<(ConcurrentQueue<byte[]> Batches, string ConfigPath)> StartCollectorAsync(Cluster cluster)
    {
        var batches = new ConcurrentQueue<byte[]>();
        var collector = await cluster.StartAppAsync("collector", (web, _) => web.MapPost("/v1/traces", async (HttpRequest r) =>
        {
            using var ms = new MemoryStream();
            await r.Body.CopyToAsync(ms);
            batches.Enqueue(ms.ToArray());
            return Results.Ok();
        }), dapr: false);
        var config = cluster.WriteFile("tracing.yaml", $"""
            apiVersion: dapr.io/v1alpha1
            kind: Configuration
            metadata:
              name: tracing
            spec:
              tracing:
                samplingRate: "1"
                otel:
                  endpointAddress: "127.0.0.1:{collector.Port}"
                  isSecure: false
                  protocol: http
            """);
        return (batches, config);
    }
}
