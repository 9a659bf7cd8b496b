namespace Platform.Sidecar.Tests.Invocation;

/// <summary>Dapr Resiliency policies on invocation targets: retries, circuit breakers, timeouts.</summary>
public sealed class ResiliencyTests
{
    private const string Policies = """
        apiVersion: dapr.io/v1alpha1
        kind: Resiliency
        metadata:
          name: resiliency
        spec:
          policies:
            timeouts:
              quick: 300ms
            retries:
              three:
                policy: constant
                duration: 20ms
                maxRetries: 3
            circuitBreakers:
              fragile:
                maxRequests: 1
                timeout: 60s
                trip: consecutiveFailures >= 3
          targets:
            apps:
              flaky:
                retry: three
              broken:
                circuitBreaker: fragile
              slow:
                timeout: quick
        """;

    private static async Task<(Cluster Cluster, HttpClient Http)> StartAsync(string target, Func<int, IResult> answer)
    {
        var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("resiliency.yaml", Policies);
        var calls = 0;
        await cluster.StartAsync(target, (web, app) => web.MapPost("/work", async () =>
        {
            var n = Interlocked.Increment(ref calls);
            app.Received.Enqueue($"call {n}");
            if (target == "slow")
            {
                await Task.Delay(TimeSpan.FromSeconds(5));
            }

            return answer(n);
        }));
        var orders = await cluster.StartSidecarAsync("orders");
        return (cluster, new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) });
    }

    [Fact]
    public async Task Retry_FlakyTarget_SucceedsOnThirdAttempt()
    {
        var (cluster, http) = await StartAsync("flaky", n => n <= 2 ? Results.StatusCode(500) : Results.Ok("done"));
        await using var _ = cluster;
        using var __ = http;

        var response = await http.PostAsync("/v1.0/invoke/flaky/method/work", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"done\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task CircuitBreaker_AfterThreeFailures_OpensAndCallsNoLongerReachTheApp()
    {
        var (cluster, http) = await StartAsync("broken", _ => Results.StatusCode(500));
        await using var _ = cluster;
        using var __ = http;

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await http.PostAsync("/v1.0/invoke/broken/method/work", null)).StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.InternalServerError, s));
        var open = await http.PostAsync("/v1.0/invoke/broken/method/work", null);
        Assert.Contains("circuit breaker is open", (await open.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CircuitBreaker_Open_AppSawOnlyTheTrippingCalls()
    {
        var cluster = Cluster.Create(Backend.InMemory);
        await using var _ = cluster;
        cluster.WriteComponent("resiliency.yaml", Policies);
        var (broken, _) = await cluster.StartAsync("broken", (web, app) => web.MapPost("/work", () =>
        {
            app.Received.Enqueue("call");
            return Results.StatusCode(500);
        }));
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        for (var i = 0; i < 8; i++)
        {
            await http.PostAsync("/v1.0/invoke/broken/method/work", null);
        }

        Assert.Equal(3, broken.Received.Count);
    }

    [Fact]
    public async Task Timeout_SlowTarget_504Quickly()
    {
        var (cluster, http) = await StartAsync("slow", _ => Results.Ok());
        await using var _ = cluster;
        using var __ = http;
        var started = DateTime.UtcNow;

        var response = await http.PostAsync("/v1.0/invoke/slow/method/work", null);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4), "the timeout policy did not cut the call short");
    }
}
