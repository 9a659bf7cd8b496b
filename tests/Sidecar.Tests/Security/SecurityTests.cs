using System.Collections.Concurrent;
using Dapr;
using Grpc.Core;
using Platform.Sidecar.Tests.State;

namespace Platform.Sidecar.Tests.Security;

/// <summary>dapr-api-token (app → sidecar), app-api-token (sidecar → app) and Configuration access control.</summary>
public sealed class SecurityTests
{
    [Fact]
    public async Task ApiToken_MissingOrWrong_RefusedOnHttpAndGrpc_HealthExempt()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders", configure: o => o with { ApiToken = "s3cret" });
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1.0/state/statestore/k")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/healthz/outbound")).StatusCode);
        var missing = await Assert.ThrowsAsync<DaprException>(() => cluster.Client(sidecar).GetStateAsync<Order>("statestore", "k"));
        // daprd's own answers (pkg/api/grpc/auth.go), from the gRPC API itself, not an HTTP 401 mapped by the client.
        var missingStatus = Assert.IsType<RpcException>(missing.InnerException).Status;
        Assert.Equal((StatusCode.Unauthenticated, "missing api token in request metadata"), (missingStatus.StatusCode, missingStatus.Detail));
        var wrong = await Assert.ThrowsAsync<DaprException>(() => cluster.Client(sidecar, "nope").SaveStateAsync("statestore", "k", new Order("o", 1)));
        var wrongStatus = Assert.IsType<RpcException>(wrong.InnerException).Status;
        Assert.Equal((StatusCode.Unauthenticated, "authentication error: api token mismatch"), (wrongStatus.StatusCode, wrongStatus.Detail));
        Assert.Null(await cluster.Client(sidecar, "s3cret").GetStateAsync<Order>("statestore", "k"));

        await cluster.Client(sidecar, "s3cret").SaveStateAsync("statestore", "k", new Order("o", 1));
        Assert.Equal(1, (await cluster.Client(sidecar, "s3cret").GetStateAsync<Order>("statestore", "k")).Amount);
    }

    [Fact]
    public async Task Tokens_AcrossSidecars_AppGetsItsAppTokenNeverTheCallers()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var tokens = new ConcurrentQueue<string>();
        await cluster.StartAsync("pricing", (web, _) =>
        {
            web.MapPost("/quote", (HttpRequest r) =>
            {
                tokens.Enqueue(r.Headers["dapr-api-token"].ToString());
                return Results.Ok();
            });
            web.MapPost("/placed", (HttpRequest r) =>
            {
                tokens.Enqueue("event:" + r.Headers["dapr-api-token"]);
                return Results.Ok();
            }).WithTopic("pubsub", "placed");
        }, configure: o => o with { ApiToken = "pricing-api", AppApiToken = "pricing-app" });
        var orders = await cluster.StartSidecarAsync("orders", configure: o => o with { ApiToken = "orders-api" });
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };
        http.DefaultRequestHeaders.Add("dapr-api-token", "orders-api");

        var response = await http.PostAsync("/v1.0/invoke/pricing/method/quote", null);
        await cluster.Client(orders, "orders-api").PublishEventAsync("pubsub", "placed", new { id = 1 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Poll.UntilAsync(() => tokens.Count == 2, "the invocation and the event");
        Assert.Equal(["event:pricing-app", "pricing-app"], tokens.Order());
    }

    private static readonly string AclConfig = AccessControlConfig.ForOrders("deny", ("/quote/**", "POST", "allow"), ("/admin/*", "*", "deny"));

    [Theory]
    [InlineData("orders", "POST", "quote/a/b", HttpStatusCode.OK)]
    [InlineData("orders", "GET", "quote/a", HttpStatusCode.Forbidden)]
    [InlineData("orders", "POST", "admin/reset", HttpStatusCode.Forbidden)]
    [InlineData("orders", "POST", "other", HttpStatusCode.Forbidden)]
    [InlineData("intruder", "POST", "quote/a", HttpStatusCode.Forbidden)]
    public async Task AccessControl_DenyByDefault_OnlyListedOperationsReachTheApp(string caller, string verb, string method, HttpStatusCode expected)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var config = cluster.WriteFile("acl.yaml", AclConfig);
        var (pricing, _) = await cluster.StartAsync("pricing", (web, app) => web.Map("/{**path}", (HttpRequest r) =>
        {
            // The sidecar's own discovery calls (/dapr/config, /dapr/subscribe) are not invocations.
            if (!r.Path.StartsWithSegments("/dapr"))
            {
                app.Received.Enqueue(r.Method + " " + r.Path);
            }

            return Results.Ok();
        }), configure: o => o with { ConfigPath = config });
        var callerSidecar = await cluster.StartSidecarAsync(caller);
        using var http = new HttpClient { BaseAddress = new Uri(callerSidecar.HttpEndpoint) };

        var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(verb), $"/v1.0/invoke/pricing/method/{method}"));

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Forbidden)
        {
            Assert.Equal("ERR_DIRECT_INVOKE", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
            Assert.Empty(pricing.Received);
        }
        else
        {
            Assert.Equal($"{verb} /{method}", Assert.Single(pricing.Received));
        }
    }

    [Fact]
    public async Task ForwardedMarker_FromAnApp_IsNotTrusted()
    {
        // An app cannot pose as a peer sidecar to dodge the API token or claim another caller id.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var config = cluster.WriteFile("acl.yaml", AclConfig);
        var (pricing, sidecar) = await cluster.StartAsync("pricing", (web, app) => web.Map("/{**path}", (HttpRequest r) =>
        {
            if (!r.Path.StartsWithSegments("/dapr"))
            {
                app.Received.Enqueue(r.Path);
            }

            return Results.Ok();
        }), configure: o => o with { ConfigPath = config, ApiToken = "t" });
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1.0/invoke/pricing/method/quote/x");
        request.Headers.Add("x-platform-sidecar-forwarded", "1");
        request.Headers.Add("dapr-caller-app-id", "orders");

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
        Assert.Empty(pricing.Received);
    }
}
