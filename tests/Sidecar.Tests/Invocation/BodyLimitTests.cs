using Grpc.Core;

namespace Platform.Sidecar.Tests.Invocation;

/// <summary>
/// daprd's <c>--max-body-size</c> (default 4Mi, dapr/dapr cmd/daprd/options/options.go): a larger request body is
/// refused on every API, HTTP and gRPC, and nothing it carried happens. The sidecar answers without reading a body
/// whose Content-Length is over the limit and then closes the connection; the clients here ask for 100-continue
/// (as HttpClient does for large uploads when told to) so they get that answer instead of a broken pipe.
/// </summary>
public sealed class BodyLimitTests
{
    private const int FourMi = 4 * 1024 * 1024;

    private static ByteArrayContent Json(string json) => new(Encoding.UTF8.GetBytes(json)) { Headers = { ContentType = new("application/json") } };

    private static HttpClient Client(SidecarHost sidecar)
    {
        var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        http.DefaultRequestHeaders.ExpectContinue = true;
        return http;
    }

    /// <summary>A JSON state save whose one value is a string that makes the body <paramref name="size"/> bytes.</summary>
    private static string StateSave(string key, int size)
    {
        var head = $$"""[{"key":"{{key}}","value":" """.TrimEnd();
        const string tail = "\"}]";
        return head + new string('x', size - head.Length - tail.Length) + tail;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(0, true)]
    [InlineData(-1, true)]
    public async Task SaveState_BodyAroundTheDefault4Mi_OverRefusedAndNothingSaved_UpToSaved(int overLimit, bool saved)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = Client(sidecar);

        var response = await http.PostAsync("/v1.0/state/statestore", Json(StateSave("k", FourMi + overLimit)));

        if (saved)
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("ERR_MALFORMED_REQUEST", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        }

        Assert.Equal(saved ? HttpStatusCode.OK : HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/state/statestore/k")).StatusCode);
    }

    [Fact]
    public async Task SaveState_ChunkedBodyOverTheLimit_RefusedAndNothingSaved()
    {
        // No Content-Length: the limit holds while reading too.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = Client(sidecar);
        using var body = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(StateSave("chunked", FourMi + 100))));
        body.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1.0/state/statestore") { Content = body };
        request.Headers.TransferEncodingChunked = true;

        var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/state/statestore/chunked")).StatusCode);
    }

    [Fact]
    public async Task Publish_BodyOverTheLimit_RefusedAndNothingDelivered()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (app, sidecar) = await cluster.StartAsync("orders", (web, app) =>
            web.MapPost("/placed", () =>
            {
                app.Received.Enqueue("event");
                return Results.Ok();
            }).WithTopic("pubsub", "placed"));
        using var http = Client(sidecar);

        var response = await http.PostAsync("/v1.0/publish/pubsub/placed", Json("\"" + new string('x', FourMi) + "\""));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("ERR_PUBSUB_PUBLISH_MESSAGE", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        await Poll.StaysFalseAsync(() => !app.Received.IsEmpty, "no event was delivered", TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Invoke_BodyOverTheLimit_RefusedAndTheAppGetsNothing()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (pricing, _) = await cluster.StartAsync("pricing", (web, app) => web.MapPost("/upload", () =>
        {
            app.Received.Enqueue("upload");
            return Results.Ok();
        }));
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = Client(orders);

        var response = await http.PostAsync("/v1.0/invoke/pricing/method/upload", new ByteArrayContent(new byte[FourMi + 1]));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("ERR_DIRECT_INVOKE", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Empty(pricing.Received);
    }

    [Fact]
    public async Task SaveStateGrpc_MessageOverTheLimit_ResourceExhaustedAndNothingSaved()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        var dapr = cluster.Client(sidecar);

        var e = await Assert.ThrowsAsync<Dapr.DaprException>(() => dapr.SaveStateAsync("statestore", "big", new string('x', FourMi)));

        Assert.Equal(StatusCode.ResourceExhausted, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Null(await dapr.GetStateAsync<string>("statestore", "big"));
    }

    [Fact]
    public async Task MaxBodySize_Raised_LargerBodiesPassOnHttpGrpcAndInvocation()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        Func<SidecarOptions, SidecarOptions> eightMi = o => o with { MaxBodySize = 8 << 20 };
        var (pricing, _) = await cluster.StartAsync("pricing", (web, app) => web.MapPost("/upload", async (HttpRequest r) =>
        {
            using var copy = new MemoryStream();
            await r.Body.CopyToAsync(copy);
            app.Received.Enqueue(copy.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return Results.Ok();
        }), configure: eightMi);
        var orders = await cluster.StartSidecarAsync("orders", configure: eightMi);
        using var http = Client(orders);
        var dapr = cluster.Client(orders);

        var save = await http.PostAsync("/v1.0/state/statestore", Json(StateSave("http", 6 << 20)));
        await dapr.SaveStateAsync("statestore", "grpc", new string('x', 6 << 20));
        var invoke = await http.PostAsync("/v1.0/invoke/pricing/method/upload", new ByteArrayContent(new byte[6 << 20]));
        var tooBig = await http.PostAsync("/v1.0/state/statestore", Json(StateSave("over", (8 << 20) + 1)));

        Assert.Equal(HttpStatusCode.NoContent, save.StatusCode);
        // Read back over HTTP: the SDK's own gRPC channel takes at most 4 MB answers.
        Assert.Equal((6 << 20) + 2, (await http.GetByteArrayAsync("/v1.0/state/statestore/grpc")).Length); // a JSON string: quoted
        Assert.Equal(HttpStatusCode.OK, invoke.StatusCode);
        Assert.Equal((6 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(pricing.Received));
        Assert.Equal(HttpStatusCode.BadRequest, tooBig.StatusCode);
    }

    [Theory]
    [InlineData("4Mi", 4L << 20)]
    [InlineData("16Mi", 16L << 20)]
    [InlineData("1k", 1000)]
    [InlineData("1Ki", 1024)]
    [InlineData("512", 512)]
    [InlineData("1.5Ki", 1536)]
    [InlineData("1e3", 1000)]
    [InlineData("2G", 2_000_000_000)]
    public void Quantity_DaprdSizes_Parsed(string text, long bytes)
    {
        Assert.True(Quantity.TryParseBytes(text, out var parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("4MB")]
    [InlineData("0.5")]
    [InlineData("-1Mi")]
    [InlineData("lots")]
    public void Quantity_NotAWholeSize_Refused(string text) => Assert.False(Quantity.TryParseBytes(text, out _));
}
