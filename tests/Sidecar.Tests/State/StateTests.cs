using Dapr;
using Dapr.Common.Exceptions;
using Grpc.Core;

namespace Platform.Sidecar.Tests.State;

public sealed record Order(string Id, decimal Amount);

/// <summary>State through the official .NET SDK (gRPC) and the raw HTTP API, on in-memory and on a real Redis.</summary>
[Collection(RedisCollection.Name)]
public sealed class StateTests(RedisServer redis)
{
    private Cluster NewCluster(Backend backend) => Cluster.Create(backend, redis);

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task SaveGetDelete_RoundTrip_ValueAndETagComeBack(Backend backend)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var key = $"order-{Guid.NewGuid():N}";

        await dapr.SaveStateAsync("statestore", key, new Order("o1", 12.5m));
        var (value, etag) = await dapr.GetStateAndETagAsync<Order>("statestore", key);
        Assert.Equal(new Order("o1", 12.5m), value);
        Assert.False(string.IsNullOrEmpty(etag));

        await dapr.DeleteStateAsync("statestore", key);
        Assert.Null(await dapr.GetStateAsync<Order>("statestore", key));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task TrySaveState_StaleETag_ReturnsFalseAndKeepsNewerValue(Backend backend)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var key = $"order-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", key, new Order("o1", 1));
        var (_, stale) = await dapr.GetStateAndETagAsync<Order>("statestore", key);
        Assert.True(await dapr.TrySaveStateAsync("statestore", key, new Order("o1", 2), stale));

        Assert.False(await dapr.TrySaveStateAsync("statestore", key, new Order("o1", 3), stale));
        Assert.False(await dapr.TryDeleteStateAsync("statestore", key, stale));
        Assert.Equal(2, (await dapr.GetStateAsync<Order>("statestore", key)).Amount);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task FirstWrite_WithoutETag_OnlyCreates(Backend backend)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var key = $"order-{Guid.NewGuid():N}";
        var firstWrite = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };
        await dapr.SaveStateAsync("statestore", key, new Order("o1", 1), firstWrite);

        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.SaveStateAsync("statestore", key, new Order("o1", 2), firstWrite));
        Assert.Equal(StatusCode.Aborted, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Equal(1, (await dapr.GetStateAsync<Order>("statestore", key)).Amount);
    }

    // components-contrib's two stores disagree on a key that does not exist, and daprd passes that on:
    // state.in-memory's doValidateEtag refuses an ETag there; state.redis's setDefaultQuery/delDefaultQuery write
    // (or delete) whatever the ETag. Each store here does what its daprd counterpart does.
    [Theory]
    [InlineData(Backend.InMemory, false)]
    [InlineData(Backend.Redis, true)]
    public async Task ETag_OnAKeyThatDoesNotExist_AsDaprdsStoreOfThatType(Backend backend, bool written)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var key = $"order-{Guid.NewGuid():N}";

        Assert.Equal(written, await dapr.TrySaveStateAsync("statestore", key, new Order("o1", 1), "7"));
        var (value, etag) = await dapr.GetStateAndETagAsync<Order>("statestore", key);
        Assert.Equal(written ? new Order("o1", 1) : null, value);
        if (written)
        {
            Assert.Equal("1", etag); // a new key starts at version 1, whatever ETag created it
        }

        var missing = $"order-{Guid.NewGuid():N}";
        Assert.Equal(written, await dapr.TryDeleteStateAsync("statestore", missing, "7"));
    }

    // contrib's state.redis marks a key written under first-write (hash field first-write = 0); from then on a
    // write without an ETag is refused, whatever its concurrency. A key written under last-write has no mark, so
    // a first-write without an ETag overwrites it there; state.in-memory refuses that (the key exists).
    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task FirstWrite_WithoutETag_OnAKeyWrittenUnderLastWrite_AsDaprdsStoreOfThatType(Backend backend)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var firstWrite = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };
        var lastWrite = new StateOptions { Concurrency = ConcurrencyMode.LastWrite };
        var open = $"order-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", open, new Order("o1", 1), lastWrite);

        var overwrote = await dapr.TrySaveStateAsync("statestore", open, new Order("o1", 2), "", firstWrite);
        Assert.Equal(backend == Backend.Redis, overwrote);
        Assert.Equal(overwrote ? 2 : 1, (await dapr.GetStateAsync<Order>("statestore", open)).Amount);

        var guarded = $"order-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", guarded, new Order("o2", 1), firstWrite);
        var refused = false;
        try
        {
            await dapr.SaveStateAsync("statestore", guarded, new Order("o2", 2), lastWrite);
        }
        catch (DaprException e) when (e.InnerException is RpcException { StatusCode: StatusCode.Aborted })
        {
            refused = true;
        }

        Assert.Equal(backend == Backend.Redis, refused);
        Assert.Equal(refused ? 1 : 2, (await dapr.GetStateAsync<Order>("statestore", guarded)).Amount);
    }

    [Fact]
    public async Task Redis_FirstWrite_MarksTheKeyAsContribDoes()
    {
        await using var cluster = NewCluster(Backend.Redis);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));
        var marked = $"fw-{Guid.NewGuid():N}";
        var plain = $"lw-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", marked, new Order("o", 1), new StateOptions { Concurrency = ConcurrencyMode.FirstWrite });
        await dapr.SaveStateAsync("statestore", plain, new Order("o", 1));

        Assert.Equal("0", (string?)await redis.Db.HashGetAsync($"orders||{marked}", "first-write"));
        Assert.False(await redis.Db.HashExistsAsync($"orders||{plain}", "first-write"));
    }

    [Fact]
    public async Task UnknownStore_Grpc_InvalidArgumentWithDaprReason()
    {
        await using var cluster = NewCluster(Backend.InMemory);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));

        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.GetStateAsync<Order>("nope", "k"));
        var rpc = Assert.IsType<RpcException>(e.InnerException);
        Assert.Equal(StatusCode.InvalidArgument, rpc.StatusCode);
        Assert.Contains("state store nope is not found", rpc.Status.Detail, StringComparison.Ordinal);
        // daprd's rich error: a google.rpc.Status in grpc-status-details-bin carrying an ErrorInfo. (SDK 1.19's
        // TryGetExtendedErrorInfo looks for type URL "Google.rpc.ErrorInfo" and so reports daprd's own
        // "google.rpc.ErrorInfo" as an unknown detail; decode it directly.)
        Assert.True(e.TryGetExtendedErrorInfo(out var info));
        Assert.Equal((int)StatusCode.InvalidArgument, info.Code);
        var status = Google.Rpc.Status.Parser.ParseFrom(rpc.Trailers.GetValueBytes("grpc-status-details-bin"));
        Assert.Equal("DAPR_STATE_NOT_FOUND", status.Details.Single().Unpack<Google.Rpc.ErrorInfo>().Reason);
    }

    [Fact]
    public async Task UnknownStore_Http_ErrStateStoreNotFound()
    {
        await using var cluster = NewCluster(Backend.InMemory);
        using var http = new HttpClient { BaseAddress = new Uri((await cluster.SingleSidecarAsync("orders")).Http) };

        var response = await http.GetAsync("/v1.0/state/nope/k");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ERR_STATE_STORE_NOT_FOUND", body.GetProperty("errorCode").GetString());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Transaction_OneStaleETag_WritesNothing(Backend backend)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var (a, b) = ($"a-{Guid.NewGuid():N}", $"b-{Guid.NewGuid():N}");
        await dapr.SaveStateAsync("statestore", a, new Order("a", 1));
        await dapr.SaveStateAsync("statestore", b, new Order("b", 1));
        var (_, etagB) = await dapr.GetStateAndETagAsync<Order>("statestore", b);
        await dapr.SaveStateAsync("statestore", b, new Order("b", 2));

        var ops = new List<StateTransactionRequest>
        {
            new(a, JsonSerializer.SerializeToUtf8Bytes(new Order("a", 99), JsonSerializerOptions.Web), StateOperationType.Upsert),
            new(b, JsonSerializer.SerializeToUtf8Bytes(new Order("b", 99), JsonSerializerOptions.Web), StateOperationType.Upsert, etagB),
        };
        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.ExecuteStateTransactionAsync("statestore", ops));

        // daprd answers any failed transaction with INTERNAL (only single saves map an ETag mismatch to ABORTED).
        Assert.Equal(StatusCode.Internal, Assert.IsType<RpcException>(e.InnerException).StatusCode);
        Assert.Equal(1, (await dapr.GetStateAsync<Order>("statestore", a)).Amount);
        Assert.Equal(2, (await dapr.GetStateAsync<Order>("statestore", b)).Amount);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkGet_MixedKeys_ReturnsValuesAndEmptyForMissing(Backend backend)
    {
        await using var cluster = NewCluster(backend);
        var dapr = cluster.Client(await cluster.SingleSidecarAsync("orders"));
        var key = $"k-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", key, new Order("x", 5));

        var items = await dapr.GetBulkStateAsync("statestore", [key, "missing-" + key], parallelism: 2);

        Assert.Equal(2, items.Count);
        Assert.Equal(5, JsonSerializer.Deserialize<Order>(items.Single(i => i.Key == key).Value, JsonSerializerOptions.Web)!.Amount);
        Assert.True(string.IsNullOrEmpty(items.Single(i => i.Key != key).Value));
    }

    [Fact]
    public async Task Redis_Layout_IsDaprsHashWithDataAndVersion()
    {
        await using var cluster = NewCluster(Backend.Redis);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));
        var key = $"layout-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", key, new Order("o", 7));
        await dapr.SaveStateAsync("statestore", key, new Order("o", 8));

        var hash = (await redis.Db.HashGetAllAsync($"orders||{key}")).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Equal("2", hash["version"]);
        Assert.Equal(8, JsonSerializer.Deserialize<Order>(hash["data"], JsonSerializerOptions.Web)!.Amount);
        var (_, etag) = await dapr.GetStateAndETagAsync<Order>("statestore", key);
        Assert.Equal("2", etag);
    }

    [Theory]
    [InlineData("{not json", "ERR_MALFORMED_REQUEST")]
    [InlineData("{\"key\":\"k\"}", "ERR_MALFORMED_REQUEST")]
    [InlineData("[{\"value\":1}]", "ERR_MALFORMED_REQUEST")]
    [InlineData("[{\"key\":\"a||b\",\"value\":1}]", "ERR_MALFORMED_REQUEST")]
    [InlineData("[{\"key\":\"k\",\"value\":1,\"options\":{\"concurrency\":\"sometimes\"}}]", "ERR_MALFORMED_REQUEST")]
    [InlineData("[{\"key\":\"k\",\"value\":1,\"metadata\":{\"ttlInSeconds\":\"soon\"}}]", "ERR_MALFORMED_REQUEST")]
    public async Task HttpSave_BadBody_400AndNothingWritten(string body, string errorCode)
    {
        await using var cluster = NewCluster(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        (await http.PostAsync("/v1.0/state/statestore", new StringContent("[{\"key\":\"k\",\"value\":\"before\"}]"))).EnsureSuccessStatusCode();

        var response = await http.PostAsync("/v1.0/state/statestore", new StringContent(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(errorCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Equal("\"before\"", await http.GetStringAsync("/v1.0/state/statestore/k"));
    }

    [Fact]
    public async Task HttpGet_MissingKey_204()
    {
        await using var cluster = NewCluster(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/state/statestore/none")).StatusCode);
    }

    [Fact]
    public async Task Ttl_Expired_ValueGone()
    {
        await using var cluster = NewCluster(Backend.Redis);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));
        var key = $"ttl-{Guid.NewGuid():N}";
        await dapr.SaveStateAsync("statestore", key, new Order("t", 1), metadata: new Dictionary<string, string> { ["ttlInSeconds"] = "1" });

        Assert.True(await redis.Db.KeyTimeToLiveAsync($"orders||{key}") is { TotalSeconds: > 0 and <= 1 });
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task HttpSave_UrlMetadata_AppliesToEveryItemAndOverridesTheItemsOwn(Backend backend)
    {
        // daprd's onPostState merges the URL's metadata.* into every item's metadata, the URL winning.
        await using var cluster = NewCluster(backend);
        using var http = new HttpClient { BaseAddress = new Uri((await cluster.SingleSidecarAsync("orders")).Http) };
        var (plain, own, untouched) = ($"u-{Guid.NewGuid():N}", $"u-{Guid.NewGuid():N}", $"u-{Guid.NewGuid():N}");
        var body = $$$"""[{"key":"{{{plain}}}","value":1},{"key":"{{{own}}}","value":2,"metadata":{"ttlInSeconds":"3600"}}]""";

        using var saved = await http.PostAsync("/v1.0/state/statestore?metadata.ttlInSeconds=1", new StringContent(body, Encoding.UTF8, "application/json"));
        using var other = await http.PostAsync("/v1.0/state/statestore", new StringContent("[{\"key\":\"" + untouched + "\",\"value\":3}]", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NoContent, saved.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
        using var ttl = await http.GetAsync($"/v1.0/state/statestore/{own}");
        Assert.True(DateTimeOffset.Parse(ttl.Headers.GetValues("metadata.ttlExpireTime").Single(), System.Globalization.CultureInfo.InvariantCulture) < DateTimeOffset.UtcNow.AddMinutes(1),
            "the URL's ttlInSeconds=1 replaced the item's 3600");
        await Poll.UntilAsync(async () =>
        {
            using var a = await http.GetAsync($"/v1.0/state/statestore/{plain}");
            using var b = await http.GetAsync($"/v1.0/state/statestore/{own}");
            return a.StatusCode == HttpStatusCode.NoContent && b.StatusCode == HttpStatusCode.NoContent;
        }, "both items saved with the URL's one-second TTL to expire");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1.0/state/statestore/{untouched}")).StatusCode);
    }
}
