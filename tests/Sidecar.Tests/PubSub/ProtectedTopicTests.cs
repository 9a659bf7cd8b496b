using Dapr;
using Grpc.Core;

namespace Platform.Sidecar.Tests.PubSub;

/// <summary>
/// <c>protectedTopics</c> as daprd applies it (dapr/dapr pkg/runtime/pubsub/adapter.go <c>IsOperationAllowed</c>):
/// a protected topic may be published or subscribed only by an app that <c>publishingScopes</c> /
/// <c>subscriptionScopes</c> grant it to; everyone else gets 403 <c>ERR_PUBSUB_FORBIDDEN</c> ("topic X is not allowed
/// for app id Y", pkg/api/errors/pubsub.go) over HTTP, PermissionDenied over gRPC, bulk or not, and no subscription.
/// Each test uses its own topic names: the Redis server is shared by the collection.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ProtectedTopicTests(RedisServer redis)
{
    private static string Topic(string name) => $"{name}-{Guid.NewGuid():N}";

    private Cluster Create(Backend backend, string topic, string publishers, string subscribers, string? protectedTopics = null)
    {
        var cluster = Cluster.Create(backend, redis);
        (string, string)[] scoping = [("protectedTopics", protectedTopics ?? topic), ("publishingScopes", publishers), ("subscriptionScopes", subscribers)];
        cluster.WriteComponent("pubsub.yaml", backend == Backend.Redis
            ? Yaml.Component("pubsub", "pubsub.redis", [("redisHost", redis.Host), ("processingTimeout", "1s"), ("redeliverInterval", "200ms"), .. scoping])
            : Yaml.Component("pubsub", "pubsub.in-memory", scoping));
        return cluster;
    }

    private static Action<WebApplication, TestApp> Reader(string topic) => (web, app) =>
        web.MapPost("/events", (Placed e) =>
        {
            app.Received.Enqueue(e.Id);
            return Results.Ok();
        }).WithTopic("pubsub", topic);

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Publish_ProtectedTopicFromUnlistedApp_ForbiddenOverHttpGrpcAndBulk(Backend backend)
    {
        var topic = Topic("ledger");
        await using var cluster = Create(backend, topic, $"owner={topic}", $"reader={topic}");
        var (reader, _) = await cluster.StartAsync("reader", Reader(topic));
        var intruder = await cluster.StartSidecarAsync("intruder");
        var owner = await cluster.StartSidecarAsync("owner");
        using var http = new HttpClient { BaseAddress = new Uri(intruder.HttpEndpoint) };
        var dapr = cluster.Client(intruder);

        var raw = await http.PostAsync($"/v1.0/publish/pubsub/{topic}", JsonContent.Create(new Placed("forged-http")));
        var rawBulk = await http.PostAsync($"/v1.0-alpha1/publish/bulk/pubsub/{topic}",
            JsonContent.Create(new[] { new { entryId = "1", @event = new Placed("forged-bulk-http"), contentType = "application/json" } }));
        var grpc = await Assert.ThrowsAsync<DaprException>(() => dapr.PublishEventAsync("pubsub", topic, new Placed("forged-grpc")));
        var grpcBulk = await Assert.ThrowsAsync<DaprException>(() => dapr.BulkPublishEventAsync("pubsub", topic, [new Placed("forged-bulk-grpc")]));

        Assert.Equal(HttpStatusCode.Forbidden, raw.StatusCode);
        var error = await raw.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ERR_PUBSUB_FORBIDDEN", error.GetProperty("errorCode").GetString());
        Assert.Equal($"topic {topic} is not allowed for app id intruder", error.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, rawBulk.StatusCode);
        Assert.Equal("ERR_PUBSUB_FORBIDDEN", (await rawBulk.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(grpc.InnerException).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(grpcBulk.InnerException).StatusCode);

        // The owner publishes through the same component; once its event is in, nothing forged ever was.
        await cluster.Client(owner).PublishEventAsync("pubsub", topic, new Placed("real-1"));
        await Poll.UntilAsync(() => reader.Received.Contains("real-1"), "the owner's event");
        Assert.Equal(["real-1"], reader.Received);
        if (backend == Backend.Redis)
        {
            Assert.Equal(1, await redis.Db.StreamLengthAsync(topic));
        }
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Subscribe_ProtectedTopicUnlistedApp_SubscriptionNotMade(Backend backend)
    {
        var topic = Topic("ledger");
        var open = Topic("open");
        await using var cluster = Create(backend, topic, $"owner={topic}", $"reader={topic}");
        var (reader, _) = await cluster.StartAsync("reader", Reader(topic));
        var (bystander, bystanderSidecar) = await cluster.StartAsync("bystander", (web, app) =>
        {
            Reader(topic)(web, app);
            web.MapPost("/open", (Placed e) =>
            {
                app.Received.Enqueue("open:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", open);
        });
        var owner = cluster.Client(await cluster.StartSidecarAsync("owner"));

        await owner.PublishEventAsync("pubsub", topic, new Placed("real-1"));
        var stranger = cluster.Client(await cluster.StartSidecarAsync("stranger"));
        await stranger.PublishEventAsync("pubsub", open, new Placed("o1"));

        // The protected topic reaches its listed reader only; the unprotected one is open to every app.
        await Poll.UntilAsync(() => reader.Received.Contains("real-1") && bystander.Received.Contains("open:o1"), "the reader's event and the open topic's");
        Assert.DoesNotContain(bystanderSidecar.Subscriptions, s => s.Topic == topic);
        Assert.Contains(bystanderSidecar.Subscriptions, s => s.Topic == open);
        Assert.Equal(["open:o1"], bystander.Received);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Publish_ListedApp_OnlyItsOwnTopics(Backend backend)
    {
        var ledger = Topic("ledger");
        var alerts = Topic("alerts");
        var open = Topic("open");
        // Two entries for one app are united, and spaces do not count (dapr/dapr pkg/scopes GetScopedTopics).
        await using var cluster = Create(backend, ledger, $"owner = {ledger} ; owner={alerts};fraud={alerts}", $"reader={ledger},{alerts}", protectedTopics: $"{ledger}, {alerts}");
        var owner = cluster.Client(await cluster.StartSidecarAsync("owner"));
        var fraud = cluster.Client(await cluster.StartSidecarAsync("fraud"));
        var unlisted = cluster.Client(await cluster.StartSidecarAsync("unlisted"));

        await owner.PublishEventAsync("pubsub", ledger, new Placed("l1"));
        await owner.PublishEventAsync("pubsub", alerts, new Placed("a1"));
        await fraud.PublishEventAsync("pubsub", alerts, new Placed("a2"));
        await unlisted.PublishEventAsync("pubsub", open, new Placed("o1"));
        var fraudOnLedger = await Assert.ThrowsAsync<DaprException>(() => fraud.PublishEventAsync("pubsub", ledger, new Placed("forged")));
        // A listed app is held to its list even on a topic nobody protects.
        var ownerOnOpen = await Assert.ThrowsAsync<DaprException>(() => owner.PublishEventAsync("pubsub", open, new Placed("o2")));

        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(fraudOnLedger.InnerException).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(ownerOnOpen.InnerException).StatusCode);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task DeadLetter_ProtectedDeadLetterTopic_PublishedOnlyWhenTheSubscriberMay(Backend backend)
    {
        // daprd dead-letters through its publisher (dapr/dapr pkg/runtime/subscription sendToDeadLetter), so the
        // subscriber's own publishing scopes decide; refused, the message stays with the broker for redelivery.
        var events = Topic("events");
        var allowedDlq = Topic("dlq");
        var refusedDlq = Topic("dlq");
        await using var cluster = Create(backend, events, $"owner={events};dropper={allowedDlq}", $"dropper={events};stuck={events};inspector={allowedDlq},{refusedDlq}",
            protectedTopics: $"{events},{allowedDlq},{refusedDlq}");
        var (inspector, _) = await cluster.StartAsync("inspector", (web, app) =>
        {
            web.MapPost("/allowed", (Placed e) =>
            {
                app.Received.Enqueue("allowed:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", allowedDlq);
            web.MapPost("/refused", (Placed e) =>
            {
                app.Received.Enqueue("refused:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", refusedDlq);
        });
        Action<WebApplication, TestApp> Dropper(string deadLetter) => (web, app) =>
            web.MapPost("/events", (Placed e) =>
            {
                app.Received.Enqueue(e.Id);
                return Results.Json(new { status = "DROP" });
            }).WithTopic(new TopicOptions { PubsubName = "pubsub", Name = events, DeadLetterTopic = deadLetter });
        var (dropper, _) = await cluster.StartAsync("dropper", Dropper(allowedDlq));
        var (stuck, _) = await cluster.StartAsync("stuck", Dropper(refusedDlq));
        var owner = cluster.Client(await cluster.StartSidecarAsync("owner"));

        await owner.PublishEventAsync("pubsub", events, new Placed("e1"));

        await Poll.UntilAsync(() => inspector.Received.Contains("allowed:e1"), "the dead letter of the app allowed to publish it", TimeSpan.FromSeconds(30));
        // The refused dead letter is neither published nor lost: the event comes back to the app again and again.
        await Poll.UntilAsync(() => stuck.Received.Count >= 3, "the event the app may not dead-letter, redelivered", TimeSpan.FromSeconds(30));
        Assert.Equal(["e1"], dropper.Received);
        Assert.Equal(["allowed:e1"], inspector.Received);
        if (backend == Backend.Redis)
        {
            Assert.Equal(0, await redis.Db.StreamLengthAsync(refusedDlq));
        }
    }
}
