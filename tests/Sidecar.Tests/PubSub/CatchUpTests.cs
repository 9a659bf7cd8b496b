using System.Collections.Concurrent;
using Dapr;

namespace Platform.Sidecar.Tests.PubSub;

/// <summary>
/// With Redis, a consumer that comes back after an outage gets its backlog of pending entries at its own speed
/// (bounded by <c>concurrency</c>), not <c>queueDepth</c> entries per <c>redeliverInterval</c>.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class CatchUpTests(RedisServer redis)
{
    private const int Backlog = 2_000;

    [Fact]
    public async Task ConsumerBackAfterOutage_PendingBacklog_DrainedAtConsumerSpeed()
    {
        await using var cluster = Cluster.Create(Backend.Redis, redis);

        // A redelivery paced by the timer (10 entries every 10 s) would need 2,000 s for this backlog; the deadline
        // below is 120 s, which a drain at the consumer's speed meets many times over.
        cluster.WriteComponent("pubsub.yaml", Yaml.Component("pubsub", "pubsub.redis",
            ("redisHost", redis.Host), ("processingTimeout", "1s"), ("redeliverInterval", "10s"), ("queueDepth", "10"), ("concurrency", "10")));
        var topic = $"catchup-{Guid.NewGuid():N}";
        var back = new TaskCompletionSource();
        var refused = new ConcurrentDictionary<string, byte>();
        var handled = new ConcurrentDictionary<string, byte>();
        var app = await cluster.StartAppAsync("balances", (web, _) => web.MapPost("/events", (Placed e) =>
        {
            // Away: the app answers RETRY (as for an app that cannot take events yet), so every entry stays pending.
            if (!back.Task.IsCompleted)
            {
                refused[e.Id] = 0;
                return Results.Json(new { status = "RETRY" });
            }

            handled[e.Id] = 0;
            return Results.Ok();
        }).WithTopic("pubsub", topic));
        await cluster.StartSidecarAsync("balances", app);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("ledger"));

        var ids = Enumerable.Range(0, Backlog).Select(i => $"e{i:D4}").ToArray();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, ct) => await dapr.PublishEventAsync("pubsub", topic, new Placed(id), ct));
        await Poll.UntilAsync(() => refused.Count == Backlog, "every event to be tried while the app is away", TimeSpan.FromSeconds(120));
        Assert.Equal(Backlog, (await redis.Db.StreamPendingAsync(topic, "balances")).PendingMessageCount);
        Assert.Empty(handled);

        back.SetResult();

        await Poll.UntilAsync(() => handled.Count == Backlog, "the whole backlog to reach the app that came back", TimeSpan.FromSeconds(120));
        Assert.Equal(ids, handled.Keys.Order(StringComparer.Ordinal));
        await Poll.UntilAsync(async () => (await redis.Db.StreamPendingAsync(topic, "balances")).PendingMessageCount == 0, "every entry acknowledged", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ReplicaJoins_EntriesHeldByLiveReplica_NotTakenBeforeProcessingTimeout()
    {
        await using var cluster = Cluster.Create(Backend.Redis, redis);

        // Every replica reads with consumer name consumerID (as contrib does), so the pending list holds the live
        // replica's entries under the same name: the newcomer's reclaim passes (one at start, then every 200 ms)
        // must still leave them alone until they have been idle processingTimeout (30 s).
        cluster.WriteComponent("pubsub.yaml", Yaml.Component("pubsub", "pubsub.redis",
            ("redisHost", redis.Host), ("processingTimeout", "30s"), ("redeliverInterval", "200ms")));
        var topic = $"held-{Guid.NewGuid():N}";
        var release = new TaskCompletionSource();
        var held = new ConcurrentDictionary<string, byte>();
        var taken = new ConcurrentDictionary<string, byte>();
        await cluster.StartAsync("billing", (web, _) => web.MapPost("/events", async (Placed e) =>
        {
            held[e.Id] = 0;
            await release.Task;
            return Results.Ok();
        }).WithTopic("pubsub", topic));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));
        var ids = Enumerable.Range(0, 5).Select(i => $"e{i}").ToArray();
        foreach (var id in ids)
        {
            await dapr.PublishEventAsync("pubsub", topic, new Placed(id));
        }

        await Poll.UntilAsync(() => held.Count == ids.Length, "the first replica to hold every event");
        await cluster.StartAsync("billing", (web, _) => web.MapPost("/events", (Placed e) =>
        {
            taken[e.Id] = 0;
            return Results.Ok();
        }).WithTopic("pubsub", topic), replicaName: "billing-2");

        await Poll.StaysFalseAsync(() => !taken.IsEmpty, "the second replica to take entries the first still holds", TimeSpan.FromSeconds(3));
        release.SetResult();
        await Poll.UntilAsync(async () => (await redis.Db.StreamPendingAsync(topic, "billing")).PendingMessageCount == 0, "the first replica to acknowledge what it held");
        Assert.Empty(taken);
    }
}
