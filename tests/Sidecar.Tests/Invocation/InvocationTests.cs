// InvokeMethodAsync is obsolete in the SDK but it is what most existing apps call: the sidecar must serve it.
#pragma warning disable CS0618

namespace Platform.Sidecar.Tests.Invocation;

public sealed record Quote(string Replica, string Caller, string Callee);

/// <summary>Service invocation through two sidecars, driven by the .NET SDK's HTTP invocation.</summary>
[Collection(RedisCollection.Name)]
public sealed class InvocationTests
{
    private static Action<WebApplication, TestApp> Quoting => (web, app) =>
    {
        web.MapPost("/quote/{**rest}", (HttpRequest r) =>
        {
            app.Received.Enqueue(r.Path + r.QueryString);
            return Results.Json(new Quote(app.Name, r.Headers["dapr-caller-app-id"].ToString(), r.Headers["dapr-callee-app-id"].ToString()));
        });
        web.MapGet("/fail", () => Results.Problem(title: "out of stock", statusCode: 409));
    };

    [Fact]
    public async Task Invoke_AppRefusesALargeBodyBeforeReadingIt_CallerGetsTheAppsAnswer()
    {
        // The app's own body limit (Kestrel's MaxRequestBodySize) answers 413 and drops the connection without
        // reading the body (12 MB: more than socket buffers absorb, so both sidecars take up to 16Mi here, above
        // daprd's default --max-body-size of 4Mi); the caller must still get that 413 through both sidecars, not a
        // failed forward.
        await using var cluster = Cluster.Create(Backend.InMemory);
        Func<SidecarOptions, SidecarOptions> bigBodies = o => o with { MaxBodySize = 16 << 20 };
        await cluster.StartAsync("small", (web, _) => web.MapPost("/upload", async (HttpRequest r) =>
        {
            r.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = 1024;
            using var copy = new MemoryStream();
            await r.Body.CopyToAsync(copy);
            return Results.Ok(copy.Length);
        }), configure: bigBodies);
        var orders = await cluster.StartSidecarAsync("orders", configure: bigBodies);
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        for (var i = 0; i < 5; i++)
        {
            using var response = await http.PostAsync("/v1.0/invoke/small/method/upload", new ByteArrayContent(new byte[12 * 1024 * 1024]));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        using var fits = await http.PostAsync("/v1.0/invoke/small/method/upload", new ByteArrayContent(new byte[100]));
        Assert.Equal("100", await fits.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InvokeMethod_TwoReplicas_Alternate()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartAsync("pricing", Quoting, "pricing-1");
        await cluster.StartAsync("pricing", Quoting, "pricing-2");
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        var replicas = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            replicas.Add((await dapr.InvokeMethodAsync<object, Quote>("pricing", "quote/x", new { })).Replica);
        }

        Assert.Equal(2, replicas.Distinct().Count());
        for (var i = 1; i < replicas.Count; i++)
        {
            Assert.NotEqual(replicas[i - 1], replicas[i]);
        }
    }

    [Fact]
    public async Task InvokeHttpClient_PathQueryAndCallerHeaders_Arrive()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, _) = await cluster.StartAsync("pricing", Quoting);
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = DaprClient.CreateInvokeHttpClient("pricing", orders.HttpEndpoint);

        var response = await http.PostAsJsonAsync("/quote/items/42?currency=EUR", new { qty = 2 });

        response.EnsureSuccessStatusCode();
        var quote = (await response.Content.ReadFromJsonAsync<Quote>())!;
        Assert.Equal(new Quote("pricing", "orders", "pricing"), quote);
        Assert.Equal("/quote/items/42?currency=EUR", Assert.Single(pricing.Received));
    }

    [Fact]
    public async Task DaprAppIdHeader_AnyPath_IsInvocation()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartAsync("pricing", Quoting);
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/quote/h") { Content = JsonContent.Create(new { }) };
        request.Headers.Add("dapr-app-id", "pricing");

        var response = await http.SendAsync(request);

        Assert.Equal("pricing", (await response.Content.ReadFromJsonAsync<Quote>())!.Replica);
    }

    [Fact]
    public async Task CalleeError_PassedThroughUnchanged()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartAsync("pricing", Quoting);
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.GetAsync("/v1.0/invoke/pricing/method/fail");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("out of stock", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
    }

    [Fact]
    public async Task UnknownApp_ErrDirectInvoke()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.PostAsync("/v1.0/invoke/nobody/method/x", null);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("ERR_DIRECT_INVOKE", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task ReplicaGone_CallsGoToTheOther()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartAsync("pricing", Quoting, "pricing-1");
        var (_, second) = await cluster.StartAsync("pricing", Quoting, "pricing-2");
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));
        await dapr.InvokeMethodAsync<object, Quote>("pricing", "quote/warm", new { });

        await cluster.StopAsync(second);

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("pricing-1", (await dapr.InvokeMethodAsync<object, Quote>("pricing", "quote/x", new { })).Replica);
        }
    }

    [Fact]
    public async Task AppMaxConcurrency1_NeverTwoCallsAtOnce()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var inFlight = 0;
        var peak = 0;
        await cluster.StartAsync("solver", (web, _) => web.MapPost("/solve", async () =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            await Task.Delay(20);
            Interlocked.Decrement(ref inFlight);
            return Results.Ok();
        }), maxConcurrency: 1);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("routing"));

        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => dapr.InvokeMethodAsync("solver", "solve")));

        Assert.Equal(1, peak);
    }

    [Fact]
    public async Task WithoutCap_CallsOverlap()
    {
        // The control for the test above: the same load without a cap does run calls side by side.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var inFlight = 0;
        var peak = 0;
        await cluster.StartAsync("solver", (web, _) => web.MapPost("/solve", async () =>
        {
            InterlockedMax(ref peak, Interlocked.Increment(ref inFlight));
            await Task.Delay(50);
            Interlocked.Decrement(ref inFlight);
            return Results.Ok();
        }));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("routing"));

        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => dapr.InvokeMethodAsync("solver", "solve")));

        Assert.True(peak > 1, $"peak {peak}");
    }

    [Fact]
    public async Task GrpcInvokeService_ReachesTheApp()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartAsync("pricing", Quoting);
        var orders = await cluster.StartSidecarAsync("orders");
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(orders.GrpcEndpoint);
        var client = new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel);

        var response = await client.InvokeServiceAsync(new Dapr.Client.Autogen.Grpc.v1.InvokeServiceRequest
        {
            Id = "pricing",
            Message = new Dapr.Client.Autogen.Grpc.v1.InvokeRequest
            {
                Method = "quote/g",
                ContentType = "application/json",
                Data = new Google.Protobuf.WellKnownTypes.Any { Value = Google.Protobuf.ByteString.CopyFromUtf8("{}") },
                HttpExtension = new Dapr.Client.Autogen.Grpc.v1.HTTPExtension { Verb = Dapr.Client.Autogen.Grpc.v1.HTTPExtension.Types.Verb.Post },
            },
        });

        Assert.Equal("pricing", JsonSerializer.Deserialize<Quote>(response.Data.Value.Span, JsonSerializerOptions.Web)!.Replica);
    }

    [Fact]
    public async Task UnimplementedGrpcMethod_Unimplemented()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(sidecar.GrpcEndpoint);
        var client = new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel);

        // A method of the Dapr service this sidecar does not implement (subtle crypto; configuration now is).
        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () =>
            await client.SubtleGetKeyAlpha1Async(new Dapr.Client.Autogen.Grpc.v1.SubtleGetKeyRequest { ComponentName = "c", Name = "k" }));

        Assert.Equal(Grpc.Core.StatusCode.Unimplemented, e.StatusCode);
    }

    [Fact]
    public async Task Metadata_ListsComponentsAndSubscriptions()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartAsync("billing", (web, _) => web.MapPost("/placed", () => Results.Ok()).WithTopic("pubsub", "placed"));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("billing"));
        await dapr.SetMetadataAsync("team", "payments");

        var metadata = await dapr.GetMetadataAsync();

        Assert.Equal("billing", metadata.Id);
        Assert.Contains(metadata.Components, c => c is { Name: "statestore", Type: "state.in-memory" });
        Assert.Contains(metadata.Components, c => c is { Name: "pubsub", Type: "pubsub.in-memory" });
        Assert.Equal("payments", metadata.Extended["team"]);
        Assert.True(await dapr.CheckHealthAsync());
    }

    /// <summary>Both APIs render one metadata snapshot: the gRPC answer lists each subscription's rules and type as the HTTP one does.</summary>
    [Fact]
    public async Task Metadata_HttpAndGrpc_DescribeTheSameSubscriptions()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (_, sidecar) = await cluster.StartAsync("billing", (web, _) => web.MapPost("/placed", () => Results.Ok()).WithTopic("pubsub", "placed"));
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(sidecar.GrpcEndpoint);
        var grpc = await new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel).GetMetadataAsync(new Dapr.Client.Autogen.Grpc.v1.GetMetadataRequest());
        using var http = new HttpClient();
        using var doc = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"{sidecar.HttpEndpoint}/v1.0/metadata"));

        var fromHttp = doc.RootElement.GetProperty("subscriptions").EnumerateArray()
            .Select(s => $"{s.GetProperty("topic").GetString()} {s.GetProperty("type").GetString()} " + string.Join(",", s.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("path").GetString())))
            .ToList();
        var fromGrpc = grpc.Subscriptions
            .Select(s => $"{s.Topic} {(s.Type == Dapr.Client.Autogen.Grpc.v1.PubsubSubscriptionType.Programmatic ? "PROGRAMMATIC" : "DECLARATIVE")} " + string.Join(",", s.Rules.Rules.Select(r => r.Path)))
            .ToList();
        Assert.Equal(["placed PROGRAMMATIC placed"], fromHttp); // the route as the SDK gave it
        Assert.Equal(fromHttp, fromGrpc);
        Assert.Equal(doc.RootElement.GetProperty("components").GetArrayLength(), grpc.RegisteredComponents.Count);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
