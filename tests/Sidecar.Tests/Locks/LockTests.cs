using Dapr;
using Grpc.Core;
using Grpc.Net.Client;
using Proto = Dapr.Client.Autogen.Grpc.v1;

#pragma warning disable DAPR_DISTRIBUTEDLOCK // the SDK marks the alpha lock API experimental

namespace Platform.Sidecar.Tests.Locks;

/// <summary>
/// The distributed lock API (daprd <c>pkg/api/universal/lock.go</c>, <c>pkg/api/http/lock.go</c>) through the
/// .NET SDK's <c>Lock</c>/<c>Unlock</c> (gRPC <c>TryLockAlpha1</c>/<c>UnlockAlpha1</c>), raw gRPC and raw HTTP,
/// on <c>lock.in-memory</c> and on <c>lock.redis</c> against a real Redis. With
/// <c>DAPR_CONFORMANCE_HTTP_ENDPOINT</c>/<c>DAPR_CONFORMANCE_GRPC_ENDPOINT</c> set, the single-sidecar tests run
/// against that daprd (its lock store must be named <c>lockstore</c>).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class LockTests(RedisServer redis)
{
    private const string Store = "lockstore";

    /// <summary>A cluster with the lock store on one backend, and a fresh resource id (tests share one Redis).</summary>
    private sealed class Setup(Cluster cluster) : IAsyncDisposable
    {
        public Cluster Cluster { get; } = cluster;

        public string Resource { get; } = $"res-{Guid.NewGuid():N}";

        /// <summary>The single sidecar of <c>orders</c>: a daprd with the conformance variables set (<see cref="Cluster.SingleSidecarAsync"/>).</summary>
        public Task<(string Http, string Grpc)> SingleSidecarAsync() => Cluster.SingleSidecarAsync("orders");

        /// <summary>The SDK client of <see cref="SingleSidecarAsync"/>.</summary>
        public async Task<DaprClient> SingleClientAsync() => Cluster.Client(await SingleSidecarAsync());

        /// <summary>The SDK client of a new sidecar (replica) of <c>orders</c>, always a dev sidecar.</summary>
        public async Task<DaprClient> ReplicaClientAsync() => Cluster.Client(await Cluster.StartSidecarAsync("orders"));

        public ValueTask DisposeAsync() => Cluster.DisposeAsync();
    }

    private Setup NewSetup(Backend backend, string keyPrefix = "")
    {
        var cluster = Cluster.Create(backend, redis);
        (string, string)[] prefix = keyPrefix.Length > 0 ? [("keyPrefix", keyPrefix)] : [];
        cluster.WriteComponent("lockstore.yaml", backend == Backend.Redis
            ? Yaml.Component(Store, "lock.redis", [("redisHost", redis.Host), .. prefix])
            : Yaml.Component(Store, "lock.in-memory", prefix));
        return new Setup(cluster);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Lock_HeldByOneOwner_OthersFailAndCannotUnlock_UntilTheOwnerUnlocks(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var (dapr, resource) = (await setup.SingleClientAsync(), setup.Resource);

        Assert.True((await dapr.Lock(Store, resource, "owner-a", 60)).Success);
        Assert.False((await dapr.Lock(Store, resource, "owner-b", 60)).Success);
        Assert.False((await dapr.Lock(Store, resource, "owner-a", 60)).Success); // not reentrant, as contrib's SET NX

        Assert.Equal(LockStatus.LockBelongsToOthers, (await dapr.Unlock(Store, resource, "owner-b")).status);
        Assert.False((await dapr.Lock(Store, resource, "owner-b", 60)).Success); // still owner-a's

        Assert.Equal(LockStatus.Success, (await dapr.Unlock(Store, resource, "owner-a")).status);
        Assert.True((await dapr.Lock(Store, resource, "owner-b", 60)).Success);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Unlock_ResourceNobodyLocked_LockDoesNotExist(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var (dapr, resource) = (await setup.SingleClientAsync(), setup.Resource);

        Assert.Equal(LockStatus.LockDoesNotExist, (await dapr.Unlock(Store, resource, "owner-a")).status);

        Assert.True((await dapr.Lock(Store, resource, "owner-a", 60)).Success);
        Assert.Equal(LockStatus.Success, (await dapr.Unlock(Store, resource, "owner-a")).status);
        Assert.Equal(LockStatus.LockDoesNotExist, (await dapr.Unlock(Store, resource, "owner-a")).status);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Expiry_FreesTheLock_ForAnotherOwner(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var (dapr, resource) = (await setup.SingleClientAsync(), setup.Resource);

        // Three seconds: long enough that the second attempt comes before the expiry even on a loaded machine.
        Assert.True((await dapr.Lock(Store, resource, "owner-a", 3)).Success);
        Assert.False((await dapr.Lock(Store, resource, "owner-b", 60)).Success);

        // The lock lapses; owner-b then gets it (and owner-a's unlock finds another owner).
        await Poll.UntilAsync(async () => (await dapr.Lock(Store, resource, "owner-b", 60)).Success, "the expired lock to be free", TimeSpan.FromSeconds(15));
        Assert.Equal(LockStatus.LockBelongsToOthers, (await dapr.Unlock(Store, resource, "owner-a")).status);
        Assert.Equal(LockStatus.Success, (await dapr.Unlock(Store, resource, "owner-b")).status);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Http_LockAndUnlock_DaprdsJson_StatusAsNumber(Backend backend)
    {
        await using var setup = NewSetup(backend);
        using var http = new HttpClient { BaseAddress = new Uri((await setup.SingleSidecarAsync()).Http) };
        var resource = setup.Resource;

        async Task<(HttpStatusCode Status, string Body)> Post(string path, object body)
        {
            var response = await http.PostAsJsonAsync(path, body);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.ToString()); // as daprd: no charset
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal((HttpStatusCode.OK, "{\"success\":true}"), await Post($"/v1.0-alpha1/lock/{Store}", new { resourceId = resource, lockOwner = "a", expiryInSeconds = 60 }));
        Assert.Equal((HttpStatusCode.OK, "{\"success\":false}"), await Post($"/v1.0-alpha1/lock/{Store}", new { resourceId = resource, lockOwner = "b", expiryInSeconds = 60 }));
        Assert.Equal((HttpStatusCode.OK, "{\"status\":2}"), await Post($"/v1.0-alpha1/unlock/{Store}", new { resourceId = resource, lockOwner = "b" }));
        Assert.Equal((HttpStatusCode.OK, "{\"status\":0}"), await Post($"/v1.0-alpha1/unlock/{Store}", new { resourceId = resource, lockOwner = "a" }));
        Assert.Equal((HttpStatusCode.OK, "{\"status\":1}"), await Post($"/v1.0-alpha1/unlock/{Store}", new { resourceId = resource, lockOwner = "a" }));
    }

    /// <summary>Bad lock requests over HTTP, each with daprd's status and error code; none of them takes the lock.</summary>
    [Theory]
    [InlineData(Backend.InMemory, "lock", Store, "{\"lockOwner\":\"a\",\"expiryInSeconds\":10}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R\",\"expiryInSeconds\":10}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R\",\"lockOwner\":\"a\",\"expiryInSeconds\":0}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R\",\"lockOwner\":\"a\",\"expiryInSeconds\":-5}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R\",\"lockOwner\":\"a\"}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R\",\"lockOwner\":\"a\",\"expiryInSeconds\":\"soon\"}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R\"", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "lock", "nope", "{\"resourceId\":\"R\",\"lockOwner\":\"a\",\"expiryInSeconds\":10}", 400, "ERR_LOCK_STORE_NOT_FOUND")]
    [InlineData(Backend.InMemory, "lock", Store, "{\"resourceId\":\"R||x\",\"lockOwner\":\"a\",\"expiryInSeconds\":10}", 500, "ERR_TRY_LOCK")]
    [InlineData(Backend.InMemory, "unlock", Store, "{\"resourceId\":\"R\"}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.InMemory, "unlock", "nope", "{\"resourceId\":\"R\",\"lockOwner\":\"z\"}", 400, "ERR_LOCK_STORE_NOT_FOUND")]
    [InlineData(Backend.Redis, "lock", Store, "{\"resourceId\":\"R\",\"lockOwner\":\"a\",\"expiryInSeconds\":0}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.Redis, "lock", Store, "{\"lockOwner\":\"a\",\"expiryInSeconds\":10}", 400, "ERR_MALFORMED_REQUEST")]
    [InlineData(Backend.Redis, "lock", "nope", "{\"resourceId\":\"R\",\"lockOwner\":\"a\",\"expiryInSeconds\":10}", 400, "ERR_LOCK_STORE_NOT_FOUND")]
    [InlineData(Backend.Redis, "lock", Store, "{\"resourceId\":\"R||x\",\"lockOwner\":\"a\",\"expiryInSeconds\":10}", 500, "ERR_TRY_LOCK")]
    [InlineData(Backend.Redis, "unlock", Store, "{\"resourceId\":\"R\",\"lockOwner\":\"\"}", 400, "ERR_MALFORMED_REQUEST")]
    public async Task Http_BadRequest_DaprdsErrorCode_AndNothingLocked(Backend backend, string op, string store, string bodyTemplate, int status, string errorCode)
    {
        await using var setup = NewSetup(backend);
        var sidecar = await setup.Cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        var resource = setup.Resource;

        var response = await http.PostAsync($"/v1.0-alpha1/{op}/{store}", new StringContent(bodyTemplate.Replace("\"R", $"\"{resource}", StringComparison.Ordinal)));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(errorCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        // Nothing was locked: another owner takes the resource at once, and Redis holds no new lock key.
        if (backend == Backend.Redis)
        {
            Assert.DoesNotContain(LockKeys(), k => k.ToString().Contains(resource, StringComparison.Ordinal));
        }

        var dapr = setup.Cluster.Client(sidecar);
        Assert.True((await dapr.Lock(Store, resource, "someone-else", 60)).Success);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Grpc_BadRequest_InvalidArgument_AndNothingLocked(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var endpoints = await setup.SingleSidecarAsync();
        using var channel = GrpcChannel.ForAddress(endpoints.Grpc);
        var raw = new Proto.Dapr.DaprClient(channel);
        var (dapr, resource) = (setup.Cluster.Client(endpoints), setup.Resource);

        // The SDK checks these arguments itself, so they go over raw gRPC as another client would send them.
        var bad = new (Proto.TryLockRequest Request, string Message)[]
        {
            (new() { StoreName = Store, LockOwner = "a", ExpiryInSeconds = 10 }, $"ResourceId is empty in lock store {Store}"),
            (new() { StoreName = Store, ResourceId = resource, ExpiryInSeconds = 10 }, $"LockOwner is empty in lock store {Store}"),
            (new() { StoreName = Store, ResourceId = resource, LockOwner = "a" }, $"ExpiryInSeconds is not positive in lock store {Store}"),
        };
        foreach (var (request, message) in bad)
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await raw.TryLockAlpha1Async(request));
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Equal(message, e.Status.Detail);
        }

        var unlock = await Assert.ThrowsAsync<RpcException>(async () => await raw.UnlockAlpha1Async(new() { StoreName = Store, ResourceId = resource }));
        Assert.Equal(StatusCode.InvalidArgument, unlock.StatusCode);

        // An unknown store through the SDK: daprd's InvalidArgument "lock store nope not found".
        var notFound = await Assert.ThrowsAsync<DaprException>(() => dapr.Lock("nope", resource, "a", 10));
        var rpc = Assert.IsType<RpcException>(notFound.InnerException);
        Assert.Equal(StatusCode.InvalidArgument, rpc.StatusCode);
        Assert.Equal("lock store nope not found", rpc.Status.Detail);

        Assert.True((await dapr.Lock(Store, resource, "someone-else", 60)).Success);
    }

    [Fact]
    public async Task NoLockStore_NotConfigured_ButAnExpiryBelowOneIsCheckedFirst()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        var dapr = cluster.Client(sidecar);

        var response = await http.PostAsJsonAsync("/v1.0-alpha1/lock/lockstore", new { resourceId = "r", lockOwner = "a", expiryInSeconds = 10 });
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("ERR_LOCK_STORE_NOT_CONFIGURED", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());

        var unlock = await http.PostAsJsonAsync("/v1.0-alpha1/unlock/lockstore", new { resourceId = "r", lockOwner = "a" });
        Assert.Equal(HttpStatusCode.InternalServerError, unlock.StatusCode);
        Assert.Equal("ERR_LOCK_STORE_NOT_CONFIGURED", (await unlock.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());

        // daprd's TryLockAlpha1 refuses a non-positive expiry before it looks for a lock store.
        var expiry = await http.PostAsJsonAsync("/v1.0-alpha1/lock/lockstore", new { resourceId = "r", lockOwner = "a", expiryInSeconds = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, expiry.StatusCode);
        Assert.Equal("ERR_MALFORMED_REQUEST", (await expiry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());

        var e = await Assert.ThrowsAsync<DaprException>(() => dapr.Lock("lockstore", "r", "a", 10));
        var rpc = Assert.IsType<RpcException>(e.InnerException);
        Assert.Equal(StatusCode.FailedPrecondition, rpc.StatusCode);
        Assert.Equal("lock store is not configured", rpc.Status.Detail);
    }

    [Theory]
    [InlineData("", "lock||orders||")]
    [InlineData("appid", "lock||orders||")]
    [InlineData("name", "lock||lockstore||")]
    [InlineData("none", "lock||")]
    [InlineData("Shared", "lock||shared||")]
    public async Task Redis_Layout_IsContribsStringKeyHoldingTheOwner_WithDaprdsKeyPrefix(string keyPrefix, string expectedPrefix)
    {
        await using var setup = NewSetup(Backend.Redis, keyPrefix);
        var (dapr, resource) = (await setup.ReplicaClientAsync(), setup.Resource);
        var key = expectedPrefix + resource;

        Assert.True((await dapr.Lock(Store, resource, "owner-a", 30)).Success);

        Assert.Equal("owner-a", (string?)await redis.Db.StringGetAsync(key));
        var ttl = await redis.Db.KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

        Assert.Equal(LockStatus.Success, (await dapr.Unlock(Store, resource, "owner-a")).status);
        Assert.False(await redis.Db.KeyExistsAsync(key));

        // A lock an operator (or another daprd) wrote in that layout is honoured.
        await redis.Db.StringSetAsync(key, "operator", TimeSpan.FromSeconds(30));
        Assert.False((await dapr.Lock(Store, resource, "owner-a", 30)).Success);
        Assert.Equal(LockStatus.LockBelongsToOthers, (await dapr.Unlock(Store, resource, "owner-a")).status);
        Assert.Equal(LockStatus.Success, (await dapr.Unlock(Store, resource, "operator")).status);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task TwoReplicasOfAnApp_ShareTheLock(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var (one, two, resource) = (await setup.ReplicaClientAsync(), await setup.ReplicaClientAsync(), setup.Resource);

        Assert.True((await one.Lock(Store, resource, "replica-1", 60)).Success);
        Assert.False((await two.Lock(Store, resource, "replica-2", 60)).Success);
        Assert.Equal(LockStatus.Success, (await one.Unlock(Store, resource, "replica-1")).status);
        Assert.True((await two.Lock(Store, resource, "replica-2", 60)).Success);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ManyOwnersAtOnce_OnTwoReplicas_ExactlyOneGetsTheLock(Backend backend)
    {
        await using var setup = NewSetup(backend);
        DaprClient[] replicas = [await setup.ReplicaClientAsync(), await setup.ReplicaClientAsync()];
        var resource = setup.Resource;

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i => (Owner: $"owner-{i}", (await replicas[i % 2].Lock(Store, resource, $"owner-{i}", 60)).Success)));

        var winner = Assert.Single(results, r => r.Success).Owner;
        foreach (var (owner, _) in results.Where(r => r.Owner != winner))
        {
            Assert.Equal(LockStatus.LockBelongsToOthers, (await replicas[0].Unlock(Store, resource, owner)).status);
        }

        Assert.Equal(LockStatus.Success, (await replicas[1].Unlock(Store, resource, winner)).status);
    }

    private List<StackExchange.Redis.RedisKey> LockKeys() =>
        redis.Connection!.GetServers().Single().Keys(pattern: "lock||*").ToList();
}
