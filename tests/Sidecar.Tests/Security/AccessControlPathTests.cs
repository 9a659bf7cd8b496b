// InvokeMethodGrpcAsync is obsolete in the SDK, but it is the SDK's way to reach daprd's gRPC InvokeService.
#pragma warning disable CS0618

using Grpc.Core;

namespace Platform.Sidecar.Tests.Security;

/// <summary>
/// Access control judges the method the app will actually get: percent-decoded and cleaned of <c>.</c>/<c>..</c>
/// segments, and case-insensitively for an HTTP app, as daprd does (dapr/dapr pkg/messaging/method/normalize.go,
/// pkg/acl/acl.go). Through two real sidecars: orders' sidecar forwards, pricing's sidecar applies the policy.
/// </summary>
public sealed class AccessControlPathTests
{
    private static readonly string AdminDenied = AccessControlConfig.ForOrders("allow", ("/admin/**", "*", "deny"));

    private static async Task<(TestApp Pricing, SidecarHost Orders)> StartAsync(Cluster cluster)
    {
        var config = cluster.WriteFile("acl.yaml", AdminDenied);
        var (pricing, _) = await cluster.StartAsync("pricing", (web, app) => web.Map("/{**path}", (HttpRequest r) =>
        {
            if (!r.Path.StartsWithSegments("/dapr"))
            {
                app.Received.Enqueue(r.Method + " " + r.Path.Value); // Value: decoded (ToString would escape it again)
            }

            return Results.Ok();
        }), configure: o => o with { ConfigPath = config });
        return (pricing, await cluster.StartSidecarAsync("orders"));
    }

    [Theory]
    [InlineData("admin%2Fusers")]
    [InlineData("admin%2fusers")]
    [InlineData("x%2F..%2Fadmin%2Fusers")]
    [InlineData("x/..%2Fadmin/users")]
    [InlineData("ADMIN/users")]
    [InlineData("Admin%2FUsers")]
    [InlineData("%61dmin/users")]
    public async Task Invoke_EncodedOrDisguisedDeniedPath_ForbiddenAndTheAppGetsNothing(string method)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, orders) = await StartAsync(cluster);
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.PostAsync($"/v1.0/invoke/pricing/method/{method}", null);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("ERR_DIRECT_INVOKE", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Empty(pricing.Received);
    }

    [Theory]
    [InlineData("public%2Fpage", "/public/page")]
    [InlineData("public/x%2F..%2Fpage", "/public/page")]
    [InlineData("a%20b", "/a b")]
    public async Task Invoke_EncodedAllowedPath_TheAppGetsTheDecodedCleanPath(string method, string received)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, orders) = await StartAsync(cluster);
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.PostAsync($"/v1.0/invoke/pricing/method/{method}", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("POST " + received, Assert.Single(pricing.Received));
    }

    [Theory]
    [InlineData("public%3Fx=1")]
    [InlineData("public%23frag")]
    [InlineData("public%0Aline")]
    public async Task Invoke_MethodWithAForbiddenCharacter_RefusedAndTheAppGetsNothing(string method)
    {
        // daprd's NormalizeMethod refuses '?', '#', NUL and control characters once decoded (Kestrel itself already
        // refuses an encoded NUL in a path with 400).
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, orders) = await StartAsync(cluster);
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.PostAsync($"/v1.0/invoke/pricing/method/{method}", null);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ERR_DIRECT_INVOKE", error.GetProperty("errorCode").GetString());
        Assert.Contains("invalid method", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(pricing.Received);
    }

    [Fact]
    public async Task InvokeGrpc_DotSegmentsToADeniedPath_PermissionDenied()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, orders) = await StartAsync(cluster);

        var e = await Assert.ThrowsAsync<InvocationException>(() => cluster.Client(orders).InvokeMethodGrpcAsync("pricing", "public/../admin/users"));

        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Empty(pricing.Received);
    }
}
