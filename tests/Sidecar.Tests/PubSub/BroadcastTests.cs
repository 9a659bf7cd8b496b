using Dapr;

namespace Platform.Sidecar.Tests.PubSub;

/// <summary>
/// A templated <c>consumerID</c> gives each replica its own consumer group: every replica gets every event (a
/// broadcast, as Live's followers use on <c>views</c>), while the app-id default keeps replicas competing.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class BroadcastTests(RedisServer redis)
{
    private static Action<WebApplication, TestApp> Subscriber(string topic) => (web, app) =>
        web.MapPost("/views", (Placed e) =>
        {
            app.Received.Enqueue(e.Id);
            return Results.Ok();
        }).WithTopic("broadcast", topic);

    private static string BroadcastComponent(Backend backend, RedisServer redis, string consumerId) => backend == Backend.Redis
        ? Yaml.Component("broadcast", "pubsub.redis", ("redisHost", redis.Host), ("consumerID", consumerId))
        : Yaml.Component("broadcast", "pubsub.in-memory", ("consumerID", consumerId));

    [Theory]
    [InlineData(Backend.InMemory, "{uuid}")]
    [InlineData(Backend.Redis, "{uuid}")]
    [InlineData(Backend.InMemory, "{podName}")]
    [InlineData(Backend.Redis, "{appID}-{podName}")]
    public async Task Publish_PerReplicaConsumerId_EveryReplicaGetsEveryEvent(Backend backend, string consumerId)
    {
        await using var cluster = Cluster.Create(backend, redis);
        cluster.WriteComponent("broadcast.yaml", BroadcastComponent(backend, redis, consumerId));
        var topic = $"views-{Guid.NewGuid():N}";
        var (one, _) = await cluster.StartAsync("live", Subscriber(topic), "live-1", configure: o => o with { PodName = "live-1" });
        var (two, _) = await cluster.StartAsync("live", Subscriber(topic), "live-2", configure: o => o with { PodName = "live-2" });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("live-leader"));

        const int count = 30;
        for (var i = 0; i < count; i++)
        {
            await dapr.PublishEventAsync("broadcast", topic, new Placed($"v{i}"));
        }

        var expected = Enumerable.Range(0, count).Select(i => $"v{i}").Order().ToList();
        await Poll.UntilAsync(() => one.Received.Distinct().Count() >= count && two.Received.Distinct().Count() >= count, "both replicas to get every event");
        Assert.Equal(expected, one.Received.Distinct().Order());
        Assert.Equal(expected, two.Received.Distinct().Order());
    }

    [Fact]
    public async Task Publish_UuidConsumerId_ReplicaStartedLaterGetsOnlyLaterEvents()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("broadcast.yaml", BroadcastComponent(Backend.InMemory, redis, "{uuid}"));
        var topic = $"views-{Guid.NewGuid():N}";
        var (one, oneSidecar) = await cluster.StartAsync("live", Subscriber(topic), "live-1");
        var dapr = cluster.Client(await cluster.StartSidecarAsync("live-leader"));

        await dapr.PublishEventAsync("broadcast", topic, new Placed("early"));
        await Poll.UntilAsync(() => one.Received.Contains("early"), "the first replica to get the early event");
        await cluster.StopAsync(oneSidecar);

        var (two, _) = await cluster.StartAsync("live", Subscriber(topic), "live-2");
        await dapr.PublishEventAsync("broadcast", topic, new Placed("late"));

        // A new replica is a new group: it starts at the next event, not at what a stopped replica left behind.
        await Poll.UntilAsync(() => two.Received.Contains("late"), "the new replica to get the late event");
        Assert.DoesNotContain("early", two.Received);
    }
}
