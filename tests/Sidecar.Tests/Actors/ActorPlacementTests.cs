using StackExchange.Redis;
using Xunit.Abstractions;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>Two replicas of one app sharing a Redis actor store: each actor lives on exactly one, and moves when its host leaves.</summary>
public sealed class ActorPlacementTests(RedisServer redis, ITestOutputHelper output) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private readonly ActorWorld _world = new(output, redis.Port);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _world.DisposeAsync().AsTask();

    private static readonly string[] Ids = [.. Enumerable.Range(0, 16).Select(i => $"actor-{i}")];

    [Fact]
    public async Task Every_actor_is_served_by_exactly_one_replica_whichever_sidecar_is_called()
    {
        var appId = ActorWorld.NewAppId();
        var a = await _world.StartReplicaAsync(appId, "A");
        var b = await _world.StartReplicaAsync(appId, "B");
        await WaitUntilBothHost(a, b);

        var hosts = new Dictionary<string, string>();
        foreach (var id in Ids)
        {
            var viaA = await ActorWorld.Counter(a.Sidecar, id).WhereAmI();
            var viaB = await ActorWorld.Counter(b.Sidecar, id).WhereAmI();
            Assert.Equal(viaA, viaB);
            hosts[id] = viaA;
        }

        Assert.Contains("A", hosts.Values);
        Assert.Contains("B", hosts.Values);
        Assert.Empty(a.Probe.Activated.Intersect(b.Probe.Activated));
        foreach (var (id, host) in hosts)
        {
            Assert.Contains(id, (host == "A" ? a : b).Probe.Activated);
        }
    }

    [Fact]
    public async Task A_thousand_concurrent_increments_from_both_sidecars_on_two_replicas_give_a_thousand()
    {
        var appId = ActorWorld.NewAppId();
        var a = await _world.StartReplicaAsync(appId, "A");
        var b = await _world.StartReplicaAsync(appId, "B");
        await WaitUntilBothHost(a, b);

        // 1,000 increments of one actor, half of the callers entering through each replica's sidecar.
        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(() => ActorWorld.Counter(i % 2 == 0 ? a.Sidecar : b.Sidecar, "shared").Increment())));

        Assert.Equal(1000, await ActorWorld.Counter(a.Sidecar, "shared").Get());
        Assert.Equal(Enumerable.Range(1, 1000), results.Order());
        Assert.Single(new[] { a, b }, r => r.Probe.Activated.Contains("shared"));
    }

    [Fact]
    public async Task When_a_replica_stops_its_actors_move_to_the_other_with_their_state()
    {
        var appId = ActorWorld.NewAppId();
        var a = await _world.StartReplicaAsync(appId, "A");
        var b = await _world.StartReplicaAsync(appId, "B");
        await WaitUntilBothHost(a, b);

        var expected = new Dictionary<string, int>();
        var onB = new List<string>();
        for (var i = 0; i < Ids.Length; i++)
        {
            var counter = ActorWorld.Counter(a.Sidecar, Ids[i]);
            for (var n = 0; n <= i % 3; n++)
            {
                await counter.Increment();
            }

            expected[Ids[i]] = (i % 3) + 1;
            if (await counter.WhereAmI() == "B")
            {
                onB.Add(Ids[i]);
            }
        }

        Assert.NotEmpty(onB);

        // The state is in Redis under daprd's actor key layout.
        await using (var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}"))
        {
            var stored = await connection.GetDatabase().HashGetAsync($"{appId}||{CounterActor.TypeName}||{onB[0]}||count", "data");
            Assert.Equal(expected[onB[0]].ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)stored);
        }

        await b.DisposeAsync();

        foreach (var id in Ids)
        {
            var counter = ActorWorld.Counter(a.Sidecar, id);
            Assert.Equal("A", await counter.WhereAmI());
            Assert.Equal(expected[id], await counter.Get());
        }

        Assert.All(onB, id => Assert.Contains(id, a.Probe.Activated));
    }

    [Fact]
    public async Task When_a_replica_joins_the_actors_placed_on_it_move_there_with_their_state()
    {
        var appId = ActorWorld.NewAppId();
        var a = await _world.StartReplicaAsync(appId, "A");
        foreach (var id in Ids)
        {
            Assert.Equal(1, await ActorWorld.Counter(a.Sidecar, id).Increment());
        }

        var b = await _world.StartReplicaAsync(appId, "B");
        var moved = new List<string>();
        foreach (var id in Ids)
        {
            var counter = ActorWorld.Counter(a.Sidecar, id);
            if (await counter.WhereAmI() == "B")
            {
                moved.Add(id);
            }

            Assert.Equal(2, await counter.Increment());
        }

        Assert.NotEmpty(moved);

        // A hands the moved actors over: it deactivates them in its app (and keeps the others).
        await ActorWorld.Eventually(() => moved.All(a.Probe.Deactivated.Contains), "A to deactivate the actors that moved to B");
        Assert.All(Ids.Except(moved), id => Assert.DoesNotContain(id, a.Probe.Deactivated));
    }

    /// <summary>Each sidecar registers its actor types once its app answered <c>/dapr/config</c>; both must be placed before the test calls.</summary>
    private static Task WaitUntilBothHost(ActorReplica a, ActorReplica b) =>
        ActorWorld.Eventually(() => a.Sidecar.Ready.IsCompleted && b.Sidecar.Ready.IsCompleted, "both replicas to host the actor type");
}
