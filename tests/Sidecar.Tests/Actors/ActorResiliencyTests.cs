namespace Platform.Sidecar.Tests.Actors;

/// <summary>Resiliency <c>targets.actors</c>: the calling sidecar retries an actor type's failing calls and trips its breaker.</summary>
public sealed class ActorResiliencyTests
{
    private const string Policies = """
        apiVersion: dapr.io/v1alpha1
        kind: Resiliency
        metadata:
          name: resiliency
        spec:
          policies:
            retries:
              twice:
                policy: constant
                duration: 20ms
                maxRetries: 2
            circuitBreakers:
              fragile:
                maxRequests: 1
                timeout: 60s
                trip: consecutiveFailures >= 3
          targets:
            actors:
              RawActor:
                retry: twice
                circuitBreaker: fragile
        """;

    private static async Task<(Cluster Cluster, RawActorApp App, HttpClient Http)> StartAsync()
    {
        var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("resiliency.yaml", Policies);
        var app = await RawActorApp.StartAsync(reentrant: false);
        var sidecar = await cluster.StartSidecarAsync("raw-resilient", configure: o => o with { AppPort = app.Port });
        return (cluster, app, new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) });
    }

    [Fact]
    public async Task FlakyActor_RetriedByPolicy_Succeeds()
    {
        var (cluster, app, http) = await StartAsync();
        await using var _ = cluster;
        await using var __ = app;
        using var ___ = http;

        var response = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/a1/method/flaky", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("call").GetInt32());
    }

    [Fact]
    public async Task BrokenActorType_BreakerOpens_CallsStopReachingTheApp()
    {
        var (cluster, app, http) = await StartAsync();
        await using var _ = cluster;
        await using var __ = app;
        using var ___ = http;

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.InternalServerError, (await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/b1/method/broken", null)).StatusCode);
        }

        // Three failed attempts (one call and its two retries) tripped the breaker; later calls fail fast.
        Assert.Equal(3, app.FlakyCalls["b1"]);
        var open = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/b2/method/flaky", null);
        Assert.Contains("circuit breaker is open", await open.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(app.FlakyCalls.ContainsKey("b2"));
    }
}
