using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapr.Client;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Platform.Sidecar.Tests.Infrastructure;

namespace Platform.Sidecar.Tests.Invocation;

/// <summary>
/// daprd's <c>--max-body-size</c> (default 4Mi, dapr/dapr cmd/daprd/options/options.go): a larger request body is
/// refused on every API, HTTP and gRPC, and nothing it carried happens.
/// </summary>
public sealed class BodyLimitTests
{
    private const int FourMi = 4 * 1024 * 1024;

    private static ByteArrayContent Json(string json) => new(Encoding.UTF8.GetBytes(json)) { Headers = { ContentType = new("application/json") } };

    /// <summary>A JSON state save whose one value is a string that makes the body <paramref name="size"/> bytes.</summary>
    private static string StateSave(string key, int size)
    {
        var head = $$"""[{"key":"{{key}}","value":" """.TrimEnd();
        const string tail = "\"}]";
        return head + new string('x', size - head.Length - tail.Length) + tail;
    }

    [Fact]
    public async Task SaveState_BodyOverTheDefault4Mi_RefusedAndNothingSaved()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        var response = await http.PostAsync("/v1.0/state/statestore", Json(StateSave("big", FourMi + 1)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ERR_MALFORMED_REQUEST", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/state/statestore/big")).StatusCode);
    }

    [Fact]
    public async Task SaveState_BodyOfExactly4Mi_Saved()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        var response = await http.PostAsync("/v1.0/state/statestore", Json(StateSave("fits", FourMi)));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1.0/state/statestore/fits")).StatusCode);
    }

    [Fact]
    public async Task SaveState_ChunkedBodyOverTheLimit_RefusedAndNothingSaved()
    {
        // No Content-Length: the limit holds while reading too.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
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
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

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
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

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
}
