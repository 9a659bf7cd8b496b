using Dapr;
using Grpc.Core;

namespace Platform.Sidecar.Tests.Bindings;

/// <summary>
/// Output bindings through the official .NET SDK (gRPC <c>InvokeBinding</c>) and the raw HTTP API
/// (<c>POST /v1.0/bindings/{name}</c>), on <c>bindings.redis</c> against a real Redis (there is no in-memory
/// binding in components-contrib), with the values checked in Redis itself. daprd's contract: 204 when the
/// binding answers nothing, 200 with its data otherwise; every failure <c>ERR_INVOKE_OUTPUT_BINDING</c> 500 /
/// <c>Internal</c>; a body that is not a request <c>ERR_MALFORMED_REQUEST</c> 400.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class OutputBindingTests(RedisServer redis)
{
    private const string SupportedOperations = "supported operations:create delete get increment";

    private async Task<(Cluster Cluster, HttpClient Http, DaprClient Dapr)> StartAsync()
    {
        var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("cache.yaml", Yaml.Component("cache", "bindings.redis", ("redisHost", redis.Host)));
        var sidecar = await cluster.StartSidecarAsync("orders");
        return (cluster, new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) }, cluster.Client(sidecar));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code, string message)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(code, body.GetProperty("errorCode").GetString());
        Assert.Equal(message, body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Grpc_CreateGetDelete_WritesTheSdkJsonToTheKey()
    {
        var (cluster, http, dapr) = await StartAsync();
        await using var _ = cluster;
        using var __ = http;
        var key = $"order-{Guid.NewGuid():N}";
        var metadata = new Dictionary<string, string> { ["key"] = key };

        await dapr.InvokeBindingAsync("cache", "create", new { Id = 7, Name = "pen" }, metadata);
        Assert.Equal("""{"id":7,"name":"pen"}""", (string?)await redis.Db.StringGetAsync(key));

        var got = await dapr.InvokeBindingAsync(new BindingRequest("cache", "get") { Metadata = { ["key"] = key } });
        Assert.Equal("""{"id":7,"name":"pen"}""", Encoding.UTF8.GetString(got.Data.Span));

        await dapr.InvokeBindingAsync(new BindingRequest("cache", "delete") { Metadata = { ["key"] = key } });
        Assert.False(await redis.Db.KeyExistsAsync(key));

        var missing = await dapr.InvokeBindingAsync(new BindingRequest("cache", "get") { Metadata = { ["key"] = key } });
        Assert.True(missing.Data.IsEmpty);
    }

    [Fact]
    public async Task Http_CreateWithTtl_GetDelete_StatusesAndDataAsDaprd()
    {
        var (cluster, http, _) = await StartAsync();
        await using var c = cluster;
        using var h = http;
        var key = $"order-{Guid.NewGuid():N}";

        // daprd hands the binding json.Marshal(data): compact, keys sorted, <>& escaped as Go escapes them.
        var create = await http.PostAsync("/v1.0/bindings/cache",
            Json($$$"""{"operation":"create","data":{"b":2,"a":"<x&y>"},"metadata":{"key":"{{{key}}}","ttlInSeconds":"100"}}"""));
        Assert.Equal(HttpStatusCode.NoContent, create.StatusCode);
        const string stored = """{"a":"\u003cx\u0026y\u003e","b":2}""";
        Assert.Equal(stored, (string?)await redis.Db.StringGetAsync(key));
        var ttl = await redis.Db.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(100));

        var get = await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"get","metadata":{"key":"{{{key}}}"}}"""));
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("application/json", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal(stored, await get.Content.ReadAsStringAsync());

        var delete = await http.PutAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"delete","metadata":{"key":"{{{key}}}"}}"""));
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.False(await redis.Db.KeyExistsAsync(key));

        var missing = await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"get","metadata":{"key":"{{{key}}}"}}"""));
        Assert.Equal(HttpStatusCode.OK, missing.StatusCode);
        Assert.Equal("", await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Http_StringDataAndIncrement_StoredAsContribStoresThem()
    {
        var (cluster, http, _) = await StartAsync();
        await using var c = cluster;
        using var h = http;
        var text = $"text-{Guid.NewGuid():N}";
        var counter = $"counter-{Guid.NewGuid():N}";

        await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"create","data":"hello","metadata":{"key":"{{{text}}}"}}"""));
        for (var i = 0; i < 2; i++)
        {
            var increment = await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"increment","metadata":{"key":"{{{counter}}}"}}"""));
            Assert.Equal(HttpStatusCode.NoContent, increment.StatusCode);
        }

        Assert.Equal("\"hello\"", (string?)await redis.Db.StringGetAsync(text)); // the JSON string, quotes and all
        Assert.Equal("2", (string?)await redis.Db.StringGetAsync(counter));
    }

    [Fact]
    public async Task UnknownOperation_RefusedOverHttpAndGrpc_NothingWritten()
    {
        var (cluster, http, dapr) = await StartAsync();
        await using var c = cluster;
        using var h = http;
        var key = $"order-{Guid.NewGuid():N}";

        var response = await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"upsert","data":1,"metadata":{"key":"{{{key}}}"}}"""));
        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.InvokeBindingAsync("cache", "upsert", 1, new Dictionary<string, string> { ["key"] = key }));

        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING",
            $"error invoking output binding cache: binding cache does not support operation upsert. {SupportedOperations}");
        var rpc = Assert.IsType<RpcException>(e.InnerException);
        Assert.Equal(StatusCode.Internal, rpc.StatusCode);
        Assert.Contains("does not support operation upsert", rpc.Status.Detail, StringComparison.Ordinal);
        Assert.False(await redis.Db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task UnknownBinding_ErrInvokeOutputBindingOverHttpAndGrpc()
    {
        var (cluster, http, dapr) = await StartAsync();
        await using var c = cluster;
        using var h = http;

        var response = await http.PostAsync("/v1.0/bindings/nope", Json("""{"operation":"create","data":1}"""));
        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.InvokeBindingAsync("nope", "create", 1));

        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding nope: couldn't find output binding nope");
        Assert.Equal(StatusCode.Internal, Assert.IsType<RpcException>(e.InnerException).StatusCode);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData("""{"operation":"create","data":1,"metadata":{"key":"K","ttlInSeconds":100}}""")]
    [InlineData("""{"operation":["create"],"data":1,"metadata":{"key":"K"}}""")]
    [InlineData("""[{"operation":"create"}]""")]
    public async Task MalformedBody_ErrMalformedRequest_NothingWritten(string body)
    {
        var (cluster, http, _) = await StartAsync();
        await using var c = cluster;
        using var h = http;
        var key = $"order-{Guid.NewGuid():N}";

        var response = await http.PostAsync("/v1.0/bindings/cache", Json(body.Replace("\"K\"", $"\"{key}\"", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ERR_MALFORMED_REQUEST", error.GetProperty("errorCode").GetString());
        Assert.StartsWith("failed deserializing HTTP body: ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(await redis.Db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task MissingOperationOrKey_ErrInvokeOutputBindingWithDaprdsAndContribsMessages()
    {
        var (cluster, http, _) = await StartAsync();
        await using var c = cluster;
        using var h = http;

        var noOperation = await http.PostAsync("/v1.0/bindings/cache", Json("""{"data":1,"metadata":{"key":"k"}}"""));
        var noKey = await http.PostAsync("/v1.0/bindings/cache", Json("""{"operation":"create","data":1}"""));

        await AssertErrorAsync(noOperation, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding cache: operation field is missing from request");
        await AssertErrorAsync(noKey, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding cache: redis binding: missing key in request metadata");
    }

    [Fact]
    public async Task IncrementOfText_RedisErrorAsErrInvokeOutputBinding_ValueKept()
    {
        var (cluster, http, _) = await StartAsync();
        await using var c = cluster;
        using var h = http;
        var key = $"text-{Guid.NewGuid():N}";
        await redis.Db.StringSetAsync(key, "abc");

        var response = await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"increment","metadata":{"key":"{{{key}}}"}}"""));

        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING",
            "error invoking output binding cache: ERR value is not an integer or out of range");
        Assert.Equal("abc", (string?)await redis.Db.StringGetAsync(key));
    }

    [Fact]
    public async Task BadTtl_Refused_NothingWritten()
    {
        var (cluster, http, _) = await StartAsync();
        await using var c = cluster;
        using var h = http;
        var key = $"order-{Guid.NewGuid():N}";

        var response = await http.PostAsync("/v1.0/bindings/cache", Json($$$"""{"operation":"create","data":1,"metadata":{"key":"{{{key}}}","ttlInSeconds":"soon"}}"""));

        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding cache: ttl value must be a valid integer: actual is 'soon'");
        Assert.False(await redis.Db.KeyExistsAsync(key));
    }

    [Fact]
    public async Task DirectionInput_RedisIsNoOutputBinding()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("cache.yaml", Yaml.Component("cache", "bindings.redis", ("redisHost", redis.Host), ("direction", "input")));
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        var response = await http.PostAsync("/v1.0/bindings/cache", Json("""{"operation":"create","data":1,"metadata":{"key":"k"}}"""));

        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding cache: couldn't find output binding cache");
    }
}
