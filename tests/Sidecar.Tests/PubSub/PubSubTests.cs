using Grpc.Core;
using Rpc = Dapr.Client.Autogen.Grpc.v1;
using Dapr;

namespace Platform.Sidecar.Tests.PubSub;

public sealed record Placed(string Id);

/// <summary>Publish through the .NET SDK; delivery to apps using Dapr.AspNetCore (WithTopic, UseCloudEvents, MapSubscribeHandler).</summary>
[Collection(RedisCollection.Name)]
public sealed class PubSubTests(RedisServer redis)
{
    private static string Topic() => $"orders-{Guid.NewGuid():N}";

    private static Action<WebApplication, TestApp> Subscriber(string topic, string? status = null) => (web, app) =>
        web.MapPost("/placed", (Placed e) =>
        {
            app.Received.Enqueue(e.Id);
            return status is null ? Results.Ok() : Results.Json(new { status });
        }).WithTopic("pubsub", topic);

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Publish_TwoApps_EachGetsEveryEvent(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var (billing, _) = await cluster.StartAsync("billing", Subscriber(topic));
        var (shipping, _) = await cluster.StartAsync("shipping", Subscriber(topic));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        for (var i = 0; i < 20; i++)
        {
            await dapr.PublishEventAsync("pubsub", topic, new Placed($"o{i}"));
        }

        await Poll.UntilAsync(() => billing.Received.Count >= 20 && shipping.Received.Count >= 20, "both apps to get 20 events");
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"o{i}").Order(), billing.Received.Distinct().Order());
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"o{i}").Order(), shipping.Received.Distinct().Order());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Publish_TwoReplicas_EachEventHandledOnce(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var (one, _) = await cluster.StartAsync("billing", Subscriber(topic), "billing-1");
        var (two, _) = await cluster.StartAsync("billing", Subscriber(topic), "billing-2");
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        const int count = 100;
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => dapr.PublishEventAsync("pubsub", topic, new Placed($"o{i}"))));

        await Poll.UntilAsync(() => one.Received.Count + two.Received.Count >= count, $"{count} deliveries");
        var all = one.Received.Concat(two.Received).ToList();
        Assert.Equal(count, all.Count);
        Assert.Equal(count, all.Distinct().Count());
        Assert.NotEmpty(one.Received);
        Assert.NotEmpty(two.Received);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Retry_IsRedelivered_Drop_IsNot(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var (retryTopic, dropTopic) = (Topic(), Topic());
        var attempts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var (app, _) = await cluster.StartAsync("billing", (web, a) =>
        {
            // RETRY the first two attempts of each event, then SUCCESS.
            web.MapPost("/retry", (Placed e) =>
            {
                var n = attempts.AddOrUpdate("retry:" + e.Id, 1, (_, v) => v + 1);
                a.Received.Enqueue($"retry:{e.Id}:{n}");
                return Results.Json(new { status = n <= 2 ? "RETRY" : "SUCCESS" });
            }).WithTopic("pubsub", retryTopic);
            web.MapPost("/drop", (Placed e) =>
            {
                var n = attempts.AddOrUpdate("drop:" + e.Id, 1, (_, v) => v + 1);
                a.Received.Enqueue($"drop:{e.Id}:{n}");
                return Results.Json(new { status = "DROP" });
            }).WithTopic("pubsub", dropTopic);
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", retryTopic, new Placed("r1"));
        await dapr.PublishEventAsync("pubsub", dropTopic, new Placed("d1"));

        await Poll.UntilAsync(() => app.Received.Contains("retry:r1:3"), "the third (successful) delivery of a RETRY event");
        // Redelivery after RETRY happens within about a second here; a DROP must not come back in twice that.
        await Poll.StaysFalseAsync(() => app.Received.Contains("drop:d1:2"), "a dropped event was redelivered", TimeSpan.FromSeconds(2));
        Assert.Contains("drop:d1:1", app.Received);
        await Poll.StaysFalseAsync(() => app.Received.Contains("retry:r1:4"), "an event was redelivered after SUCCESS", TimeSpan.FromMilliseconds(500));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Drop_WithDeadLetterTopic_GoesToDeadLetter(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var (topic, dead) = (Topic(), Topic());
        var (app, _) = await cluster.StartAsync("billing", (web, a) =>
        {
            web.MapPost("/placed", (Placed _) => Results.Json(new { status = "DROP" }))
                .WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, DeadLetterTopic = dead });
            web.MapPost("/dead", (Placed e) =>
            {
                a.Received.Enqueue("dead:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", dead);
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("x1"));

        await Poll.UntilAsync(() => app.Received.Contains("dead:x1"), "the dropped event on the dead-letter topic");
    }

    [Fact]
    public async Task Http404_IsDropped_NotRedelivered()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        var hits = 0;
        await cluster.StartAsync("billing", (web, a) =>
        {
            web.MapPost("/gone", () =>
            {
                Interlocked.Increment(ref hits);
                return Results.NotFound();
            }).WithTopic("pubsub", topic);
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("n1"));

        await Poll.UntilAsync(() => hits >= 1, "the first delivery");
        await Poll.StaysFalseAsync(() => hits > 1, "a 404 was redelivered", TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task RoutingRules_MatchOnEventData_PickPath()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        var (app, _) = await cluster.StartAsync("billing", (web, a) =>
        {
            web.MapPost("/big", (Placed e) =>
            {
                a.Received.Enqueue("big:" + e.Id);
                return Results.Ok();
            }).WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, Match = "event.data.id.startsWith(\"big\")", Priority = 1 });
            web.MapPost("/other", (Placed e) =>
            {
                a.Received.Enqueue("other:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", topic);
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("big-1"));
        await dapr.PublishEventAsync("pubsub", topic, new Placed("small-1"));

        await Poll.UntilAsync(() => app.Received.Count >= 2, "two deliveries");
        Assert.Equal(["big:big-1", "other:small-1"], app.Received.Order());
    }

    [Fact]
    public async Task DeclarativeSubscription_Yaml_DeliversToRoute()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        cluster.WriteComponent("subscription.yaml", $"""
            apiVersion: dapr.io/v2alpha1
            kind: Subscription
            metadata:
              name: placed
            spec:
              pubsubname: pubsub
              topic: {topic}
              routes:
                default: /declared
            scopes:
              - billing
            """);
        var (app, sidecar) = await cluster.StartAsync("billing", (web, a) => web.MapPost("/declared", (Placed e) =>
        {
            a.Received.Enqueue(e.Id);
            return Results.Ok();
        }));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("y1"));

        await Poll.UntilAsync(() => app.Received.Contains("y1"), "delivery through the declarative subscription");
        Assert.Contains(sidecar.Subscriptions, s => s.Topic == topic && s.Origin.EndsWith("subscription.yaml", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CloudEvent_Envelope_AsDaprdBuildsIt()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        JsonElement? seen = null;
        string? contentType = null;
        var billing = await cluster.StartAppAsync("billing", (web, a) =>
        {
            // No Dapr middleware here: this app reads the envelope exactly as the sidecar posts it.
            web.MapPost("/raw", async (HttpRequest r) =>
            {
                contentType = r.ContentType;
                seen = await JsonSerializer.DeserializeAsync<JsonElement>(r.Body);
                return Results.Ok();
            });
            web.MapGet("/dapr/subscribe", () => Results.Json(new[] { new { pubsubname = "pubsub", topic, route = "/raw" } }));
        }, dapr: false);
        await cluster.StartSidecarAsync("billing", billing);
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.PostAsync($"/v1.0/publish/pubsub/{topic}?metadata.cloudevent.type=order.placed", JsonContent.Create(new Placed("c1")));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        await Poll.UntilAsync(() => seen is not null, "the delivery");
        var ce = seen!.Value;
        Assert.StartsWith("application/cloudevents+json", contentType, StringComparison.Ordinal);
        Assert.Equal("1.0", ce.GetProperty("specversion").GetString());
        Assert.Equal("orders", ce.GetProperty("source").GetString());
        Assert.Equal("order.placed", ce.GetProperty("type").GetString());
        Assert.Equal(topic, ce.GetProperty("topic").GetString());
        Assert.Equal("pubsub", ce.GetProperty("pubsubname").GetString());
        Assert.StartsWith("application/json", ce.GetProperty("datacontenttype").GetString(), StringComparison.Ordinal);
        Assert.Equal("c1", ce.GetProperty("data").GetProperty("id").GetString());
        Assert.Equal(ce.GetProperty("traceparent").GetString(), ce.GetProperty("traceid").GetString());
        Assert.True(Guid.TryParse(ce.GetProperty("id").GetString(), out _));
    }

    [Theory]
    [InlineData("/v1.0/publish/nope/t", 404, "ERR_PUBSUB_NOT_FOUND")]
    [InlineData("/v1.0/publish/pubsub/", 404, "ERR_TOPIC_NAME_EMPTY")]
    public async Task Publish_BadTarget_DaprError(string path, int status, string code)
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var sidecar = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        var response = await http.PostAsync(path, JsonContent.Create(new Placed("p")));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task Publish_MalformedCloudEvent_400AndNothingPublished()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        var (app, _) = await cluster.StartAsync("billing", Subscriber(topic));
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var response = await http.PostAsync($"/v1.0/publish/pubsub/{topic}", new StringContent("{not json", null, "application/cloudevents+json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ERR_PUBSUB_CLOUD_EVENTS_SER", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        await cluster.Client(orders).PublishEventAsync("pubsub", topic, new Placed("after"));
        await Poll.UntilAsync(() => app.Received.Contains("after"), "the valid event after the bad one");
        Assert.Equal(["after"], app.Received);
    }

    [Fact]
    public async Task Redis_Layout_StreamPerTopicWithDataAndMetadata_GroupPerAppId()
    {
        await using var cluster = Cluster.Create(Backend.Redis, redis);
        var topic = Topic();
        var (app, _) = await cluster.StartAsync("billing", Subscriber(topic));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("l1"));
        await Poll.UntilAsync(() => app.Received.Contains("l1"), "delivery");

        var entry = (await redis.Db.StreamRangeAsync(topic)).Single();
        var envelope = JsonDocument.Parse((string)entry["data"]!).RootElement;
        Assert.Equal("l1", envelope.GetProperty("data").GetProperty("id").GetString());
        Assert.False(entry["metadata"].IsNull);
        var group = (await redis.Db.StreamGroupInfoAsync(topic)).Single();
        Assert.Equal("billing", group.Name);
        await Poll.UntilAsync(() => redis.Db.StreamPending(topic, "billing").PendingMessageCount == 0, "the entry to be acknowledged");
    }
}

/// <summary>HTTP bulk publish: entry ids as either SDK writes them; a bad entry publishes nothing.</summary>
public sealed class BulkPublishTests
{
    /// <summary>A subscriber (billing) on a new topic, and the publisher's sidecar (orders).</summary>
    private static async Task<(string Topic, TestApp Billing, SidecarHost Orders)> StartAsync(Cluster cluster)
    {
        var topic = $"bulk-{Guid.NewGuid():N}";
        var (app, _) = await cluster.StartAsync("billing", (web, a) => web.MapPost("/placed", (Placed e) =>
        {
            a.Received.Enqueue(e.Id);
            return Results.Ok();
        }).WithTopic("pubsub", topic));
        return (topic, app, await cluster.StartSidecarAsync("orders"));
    }

    [Fact]
    public async Task BulkPublish_DuplicateEntryId_400AndNothingPublished()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (topic, app, orders) = await StartAsync(cluster);
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        var bad = await http.PostAsync($"/v1.0-alpha1/publish/bulk/pubsub/{topic}", JsonContent.Create(new object[]
        {
            new { entryID = "1", @event = new Placed("b1"), contentType = "application/json" },
            new { entryID = "1", @event = new Placed("b2"), contentType = "application/json" },
        }));
        var good = await http.PostAsync($"/v1.0-alpha1/publish/bulk/pubsub/{topic}", JsonContent.Create(new object[]
        {
            new { entryID = "1", @event = new Placed("g1"), contentType = "application/json" },
            new { entryId = "2", @event = new Placed("g2"), contentType = "application/json" },
        }));

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("ERR_PUBSUB_EVENTS_SER", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        Assert.Equal(HttpStatusCode.NoContent, good.StatusCode);
        await Poll.UntilAsync(() => app.Received.Count >= 2, "the good batch");
        Assert.Equal(["g1", "g2"], app.Received.Order());
    }

    [Theory]
    [InlineData("BulkPublishEventAlpha1", "1", "1")]
    [InlineData("BulkPublishEventAlpha1", "1", "")]
    [InlineData("BulkPublishEvent", "1", "1")]
    [InlineData("BulkPublishEvent", "", "2")]
    public async Task GrpcBulkPublish_DuplicateOrMissingEntryId_InvalidArgumentAndNothingPublished(string method, string first, string second)
    {
        // daprd's bulkPublishEvent (pkg/api/grpc/grpc.go) checks every entry id before it publishes any:
        // "entryId is duplicated or not present for entry", InvalidArgument, ERR_PUBSUB_EVENTS_SER.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (topic, app, orders) = await StartAsync(cluster);
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(orders.GrpcEndpoint);
        var client = new Rpc.Dapr.DaprClient(channel);
        Rpc.BulkPublishRequest Request(params (string Id, string Event)[] entries)
        {
            var request = new Rpc.BulkPublishRequest { PubsubName = "pubsub", Topic = topic };
            foreach (var (id, ev) in entries)
            {
                request.Entries.Add(new Rpc.BulkPublishRequestEntry
                {
                    EntryId = id,
                    Event = Google.Protobuf.ByteString.CopyFromUtf8($$"""{"id":"{{ev}}"}"""),
                    ContentType = "application/json",
                });
            }

            return request;
        }

#pragma warning disable CS0612 // the Alpha1 name is obsolete in the protos, and still what older SDKs call
        Task<Rpc.BulkPublishResponse> Call(Rpc.BulkPublishRequest r) =>
            method == "BulkPublishEvent" ? client.BulkPublishEventAsync(r).ResponseAsync : client.BulkPublishEventAlpha1Async(r).ResponseAsync;
#pragma warning restore CS0612

        var bad = await Assert.ThrowsAsync<RpcException>(() => Call(Request((first, "b1"), (second, "b2"))));
        var good = await Call(Request(("1", "g1"), ("2", "g2")));

        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("entryId is duplicated or not present", bad.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(good.FailedEntries);
        await Poll.UntilAsync(() => app.Received.Count >= 2, "the good batch");
        Assert.Equal(["g1", "g2"], app.Received.Order());
    }
}
