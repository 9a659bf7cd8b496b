using Dapr.Actors;
using Dapr.Actors.Client;
using Xunit.Abstractions;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>The official actor SDK (proxies and runtime) against the sidecar: calls, state, errors, idle deactivation, metadata.</summary>
public sealed class ActorProxyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ActorWorld _world = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _world.DisposeAsync().AsTask();

    [Fact]
    public async Task Remoting_proxy_calls_the_actor_and_its_state_survives_deactivation()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A", o =>
        {
            o.ActorIdleTimeout = TimeSpan.FromSeconds(1);
            o.ActorScanInterval = TimeSpan.FromMilliseconds(100);
        });
        var counter = ActorWorld.Counter(replica.Sidecar, "remoting-1");

        Assert.Equal(1, await counter.Increment());
        Assert.Equal(2, await counter.Increment());
        Assert.Equal(3, await counter.Increment());
        await ActorWorld.Eventually(() => replica.Probe.Deactivated.Contains("remoting-1"), "the idle actor to be deactivated");

        Assert.Equal(3, await counter.Get());
        Assert.True(replica.Probe.Activated.Count(id => id == "remoting-1") >= 2, "the actor was activated again after its deactivation");
    }

    [Fact]
    public async Task Non_remoting_proxy_invokes_by_method_name_with_json()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        var proxy = ActorProxy.Create(new ActorId("json-1"), CounterActor.TypeName, ActorWorld.ProxyOptions(replica.Sidecar));

        Assert.Equal(1, await proxy.InvokeMethodAsync<int>(nameof(ICounter.Increment)));
        Assert.Equal(2, await proxy.InvokeMethodAsync<int>(nameof(ICounter.Increment)));
        Assert.Equal(2, await proxy.InvokeMethodAsync<int>(nameof(ICounter.Get)));
        Assert.Equal("A", await proxy.InvokeMethodAsync<string>(nameof(ICounter.WhereAmI)));

        // Both kinds of proxy reach the same actor and state.
        Assert.Equal(3, await ActorWorld.Counter(replica.Sidecar, "json-1").Increment());
    }

    [Fact]
    public async Task An_exception_in_the_actor_reaches_the_caller()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        var counter = ActorWorld.Counter(replica.Sidecar, "fails");

        var e = await Assert.ThrowsAsync<ActorMethodInvocationException>(counter.Fail);
        Assert.Contains("the counter refuses", e.InnerException?.Message ?? e.Message, StringComparison.Ordinal);

        // Without remoting the app answers 500, which daprd reports as ERR_ACTOR_INVOKE_METHOD.
        var proxy = ActorProxy.Create(new ActorId("fails"), CounterActor.TypeName, ActorWorld.ProxyOptions(replica.Sidecar));
        var json = await Assert.ThrowsAsync<Dapr.DaprApiException>(() => proxy.InvokeMethodAsync(nameof(ICounter.Fail)));
        Assert.Equal("ERR_ACTOR_INVOKE_METHOD", json.ErrorCode);
        Assert.Contains("error from actor service: (500)", json.Message, StringComparison.Ordinal);

        // The actor still works afterwards.
        Assert.Equal(1, await counter.Increment());
    }

    [Fact]
    public async Task Actor_state_reads_and_writes_follow_daprd()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        await ActorWorld.Counter(replica.Sidecar, "keyed").Increment();
        using var http = new HttpClient { BaseAddress = new Uri(replica.Sidecar.HttpEndpoint) };

        using var found = await http.GetAsync($"/v1.0/actors/{CounterActor.TypeName}/keyed/state/count");
        Assert.Equal(200, (int)found.StatusCode);
        Assert.Equal("1", await found.Content.ReadAsStringAsync());
        using var missing = await http.GetAsync($"/v1.0/actors/{CounterActor.TypeName}/keyed/state/nothing");
        Assert.Equal(204, (int)missing.StatusCode);

        using var unknownType = await http.PutAsJsonAsync("/v1.0/actors/NoSuchType/x/state", new[] { new { operation = "upsert", request = new { key = "k", value = 1 } } });
        Assert.Equal(400, (int)unknownType.StatusCode);
        Assert.Equal("ERR_ACTOR_INSTANCE_MISSING", (await unknownType.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task Metadata_lists_the_active_actors_per_type()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        await ActorWorld.Counter(replica.Sidecar, "m1").Increment();
        await ActorWorld.Counter(replica.Sidecar, "m2").Increment();
        using var http = new HttpClient { BaseAddress = new Uri(replica.Sidecar.HttpEndpoint) };

        var metadata = await http.GetFromJsonAsync<JsonElement>("/v1.0/metadata");

        var actors = metadata.GetProperty("actors").EnumerateArray().ToList();
        var counter = Assert.Single(actors);
        Assert.Equal(CounterActor.TypeName, counter.GetProperty("type").GetString());
        Assert.Equal(2, counter.GetProperty("count").GetInt32());

        // The gRPC GetMetadata, read by DaprClient from actor_runtime.active_actors.
        using var client = new DaprClientBuilder().UseGrpcEndpoint(replica.Sidecar.GrpcEndpoint).UseHttpEndpoint(replica.Sidecar.HttpEndpoint).Build();
        var grpc = await client.GetMetadataAsync();
        var active = Assert.Single(grpc.Actors);
        Assert.Equal(CounterActor.TypeName, active.Type);
        Assert.Equal(2, active.Count);
    }

    [Fact]
    public async Task An_app_without_actors_calls_actors_hosted_by_another_app_through_its_own_sidecar()
    {
        var backend = await _world.StartReplicaAsync(ActorWorld.NewAppId("backend"), "backend");
        var frontend = await _world.StartSidecarAsync(ActorWorld.NewAppId("frontend"), appPort: null);

        Assert.Equal("backend", await ActorWorld.Counter(frontend, "shared").WhereAmI());
        Assert.Equal(1, await ActorWorld.Counter(frontend, "shared").Increment());
        Assert.Equal(1, await ActorWorld.Counter(backend.Sidecar, "shared").Get());
    }

    [Fact]
    public async Task Calling_a_type_nobody_hosts_is_a_dapr_error()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        var proxy = ActorProxy.Create(new ActorId("x"), "NoSuchActor", ActorWorld.ProxyOptions(replica.Sidecar));

        var e = await Assert.ThrowsAsync<Dapr.DaprApiException>(() => proxy.InvokeMethodAsync<int>("Get"));
        Assert.Equal("ERR_ACTOR_NO_ADDRESS", e.ErrorCode);
    }
}
