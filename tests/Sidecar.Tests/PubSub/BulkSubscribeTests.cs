using System.Collections.Concurrent;
using System.Diagnostics;
using Dapr;
using Dapr.AspNetCore;

namespace Platform.Sidecar.Tests.PubSub;

/// <summary>
/// Bulk subscribe over the HTTP app channel: apps written with Dapr.AspNetCore (<c>WithBulkSubscribe</c>,
/// <c>BulkSubscribeMessage&lt;T&gt;</c>, <c>BulkSubscribeAppResponse</c>) and events published with Dapr.Client.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class BulkSubscribeTests(RedisServer redis)
{
    private static string Topic() => $"bulk-{Guid.NewGuid():N}";

    /// <summary>One delivery of one entry as the app saw it.</summary>
    private sealed record Seen(string EntryId, string Id, int Attempt);

    /// <summary>What a bulk app saw: every batch (its entries) and how often each event id came.</summary>
    private sealed class BulkLog
    {
        private readonly ConcurrentDictionary<string, int> _attempts = new();

        public ConcurrentQueue<IReadOnlyList<Seen>> Batches { get; } = new();

        /// <summary>Ids the app answered SUCCESS for (once per answer).</summary>
        public ConcurrentQueue<string> Accepted { get; } = new();

        public IReadOnlyList<Seen> Record(BulkSubscribeMessage<BulkMessageModel<Placed>> bulk)
        {
            var batch = bulk.Entries.Select(e => new Seen(e.EntryId, e.Event.Data.Id, _attempts.AddOrUpdate(e.Event.Data.Id, 1, (_, n) => n + 1))).ToList();
            Batches.Enqueue(batch);
            return batch;
        }

        public int Attempts(string id) => _attempts.GetValueOrDefault(id);

        public IEnumerable<Seen> All => Batches.SelectMany(b => b);
    }

    /// <summary>
    /// An app with one bulk route on <paramref name="topic"/>; <paramref name="answer"/> gives each entry's status
    /// (null: left out of the answer).
    /// </summary>
    private static Action<WebApplication, TestApp> BulkApp(string topic, BulkLog log, int maxMessages, int maxAwaitMs,
        Func<Seen, BulkSubscribeAppResponseStatus?>? answer = null, string? deadLetterTopic = null) => (web, app) =>
    {
        web.MapPost("/bulk", (BulkSubscribeMessage<BulkMessageModel<Placed>> bulk) =>
            {
                var statuses = new List<BulkSubscribeAppResponseEntry>();
                foreach (var seen in log.Record(bulk))
                {
                    var status = answer is null ? BulkSubscribeAppResponseStatus.SUCCESS : answer(seen);
                    if (status is { } s)
                    {
                        statuses.Add(new BulkSubscribeAppResponseEntry(seen.EntryId, s));
                        if (s == BulkSubscribeAppResponseStatus.SUCCESS)
                        {
                            log.Accepted.Enqueue(seen.Id);
                        }
                    }
                }

                return Results.Json(new BulkSubscribeAppResponse(statuses));
            })
            .WithTopic(new TopicOptions { PubsubName = "pubsub", Name = topic, DeadLetterTopic = deadLetterTopic })
            .WithBulkSubscribe(new BulkSubscribeTopicOptions { TopicName = topic, MaxMessagesCount = maxMessages, MaxAwaitDurationMs = maxAwaitMs });
        if (deadLetterTopic is not null)
        {
            web.MapPost("/dead", (Placed e) =>
            {
                app.Received.Enqueue("dead:" + e.Id);
                return Results.Ok();
            }).WithTopic("pubsub", deadLetterTopic);
        }
    };

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_ManyEvents_ArriveInBatchesOfAtMostMax_EachOnce(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var log = new BulkLog();
        await cluster.StartAsync("billing", BulkApp(topic, log, maxMessages: 5, maxAwaitMs: 1000));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        const int count = 40;
        var ids = Enumerable.Range(0, count).Select(i => $"o{i}").ToList();
        await Task.WhenAll(ids.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => log.Accepted.Distinct().Count() >= count, $"{count} events accepted");
        await Poll.StaysFalseAsync(() => log.All.Count() > count, "an accepted event came again", TimeSpan.FromMilliseconds(1500));
        Assert.Equal(ids.Order(), log.All.Select(s => s.Id).Order());
        Assert.Equal(count, log.All.Select(s => s.EntryId).Distinct().Count());
        Assert.All(log.Batches, b => Assert.InRange(b.Count, 1, 5));
        // A burst published at once is batched: fewer envelopes than events.
        Assert.True(log.Batches.Count < count, $"{log.Batches.Count} envelopes for {count} events");
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_PartialBatch_FlushedAfterMaxAwaitDuration(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var log = new BulkLog();
        await cluster.StartAsync("billing", BulkApp(topic, log, maxMessages: 100, maxAwaitMs: 600));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        var clock = Stopwatch.StartNew();
        await Task.WhenAll(new[] { "p1", "p2", "p3" }.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => !log.Batches.IsEmpty, "the first envelope");
        var firstAfter = clock.Elapsed;
        await Poll.UntilAsync(() => log.Accepted.Distinct().Count() >= 3, "all three events");
        // Far fewer than maxMessagesCount: only the await window can have flushed them, and not before it ran out.
        Assert.True(firstAfter >= TimeSpan.FromMilliseconds(550), $"the first envelope came after {firstAfter.TotalMilliseconds} ms, inside the 600 ms window");
        Assert.Equal(["p1", "p2", "p3"], log.All.Select(s => s.Id).Order());
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_PerEntryStatuses_RetryAndMissingRedelivered_DropAndSuccessNot(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var log = new BulkLog();
        // r*: RETRY the first time; m*: left out of the first answer; d*: DROP; s*: SUCCESS.
        await cluster.StartAsync("billing", BulkApp(topic, log, maxMessages: 10, maxAwaitMs: 200, seen => seen.Id[0] switch
        {
            'r' => seen.Attempt == 1 ? BulkSubscribeAppResponseStatus.RETRY : BulkSubscribeAppResponseStatus.SUCCESS,
            'm' => seen.Attempt == 1 ? null : BulkSubscribeAppResponseStatus.SUCCESS,
            'd' => BulkSubscribeAppResponseStatus.DROP,
            _ => BulkSubscribeAppResponseStatus.SUCCESS,
        }));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        string[] ids = ["r1", "r2", "m1", "m2", "d1", "d2", "s1", "s2"];
        await Task.WhenAll(ids.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => new[] { "r1", "r2", "m1", "m2", "s1", "s2" }.All(log.Accepted.Contains), "RETRY and unanswered entries accepted on redelivery");
        // Redelivery takes about a second here; nothing answered SUCCESS or DROP may come back in twice that.
        await Poll.StaysFalseAsync(() => ids.Any(id => log.Attempts(id) > (id[0] is 'r' or 'm' ? 2 : 1)), "an entry came back after SUCCESS or DROP", TimeSpan.FromSeconds(2));
        Assert.Equal(2, log.Attempts("r1"));
        Assert.Equal(2, log.Attempts("m2"));
        Assert.Equal(1, log.Attempts("d1"));
        Assert.Equal(1, log.Attempts("s2"));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_DropWithDeadLetterTopic_OnlyDroppedEntriesDeadLettered(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var (topic, dead) = (Topic(), Topic());
        var log = new BulkLog();
        var (app, _) = await cluster.StartAsync("billing", BulkApp(topic, log, maxMessages: 10, maxAwaitMs: 200,
            seen => seen.Id.StartsWith('d') ? BulkSubscribeAppResponseStatus.DROP : BulkSubscribeAppResponseStatus.SUCCESS, dead));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await Task.WhenAll(new[] { "d1", "d2", "s1", "s2" }.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => app.Received.Contains("dead:d1") && app.Received.Contains("dead:d2"), "the dropped entries on the dead-letter topic");
        await Poll.UntilAsync(() => log.Accepted.Contains("s1") && log.Accepted.Contains("s2"), "the others accepted");
        await Poll.StaysFalseAsync(() => app.Received.Any(r => r.StartsWith("dead:s", StringComparison.Ordinal)) || log.Attempts("d1") > 1,
            "an accepted entry was dead-lettered, or a dropped one redelivered", TimeSpan.FromSeconds(1.5));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_App500_WholeBatchRedelivered(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var log = new BulkLog();
        var failed = 0;
        await cluster.StartAsync("billing", (web, app) => web.MapPost("/bulk", (BulkSubscribeMessage<BulkMessageModel<Placed>> bulk) =>
            {
                var batch = log.Record(bulk);
                // The first envelope is answered 500, whatever it holds: every entry in it must come again.
                if (Interlocked.Exchange(ref failed, 1) == 0)
                {
                    return Results.StatusCode(500);
                }

                foreach (var seen in batch)
                {
                    log.Accepted.Enqueue(seen.Id);
                }

                return Results.Json(new BulkSubscribeAppResponse(batch.Select(s => new BulkSubscribeAppResponseEntry(s.EntryId, BulkSubscribeAppResponseStatus.SUCCESS)).ToList()));
            })
            .WithTopic("pubsub", topic)
            .WithBulkSubscribe(new BulkSubscribeTopicOptions { TopicName = topic, MaxMessagesCount = 10, MaxAwaitDurationMs = 300 }));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        string[] ids = ["a1", "a2", "a3", "a4"];
        await Task.WhenAll(ids.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => ids.All(log.Accepted.Contains), "every event accepted");
        var refused = log.Batches.First();
        Assert.All(refused, s => Assert.Equal(2, log.Attempts(s.Id)));
        await Poll.StaysFalseAsync(() => ids.Any(id => log.Attempts(id) > (refused.Any(s => s.Id == id) ? 2 : 1)), "an accepted event came again", TimeSpan.FromSeconds(1.5));
    }

    [Theory]
    [InlineData(Backend.InMemory, "dapr.io/v2alpha1")]
    [InlineData(Backend.Redis, "dapr.io/v2alpha1")]
    [InlineData(Backend.InMemory, "dapr.io/v1alpha1")]
    public async Task BulkSubscribe_DeclarativeSubscription_DeliversBulkEnvelopes(Backend backend, string apiVersion)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var route = apiVersion == "dapr.io/v1alpha1" ? "route: /declared" : "routes:\n    default: /declared";
        cluster.WriteComponent("subscription.yaml", $"""
            apiVersion: {apiVersion}
            kind: Subscription
            metadata:
              name: bulk
            spec:
              pubsubname: pubsub
              topic: {topic}
              {route}
              bulkSubscribe:
                enabled: true
                maxMessagesCount: 3
                maxAwaitDurationMs: 200
            scopes:
              - billing
            """);
        var log = new BulkLog();
        var (_, sidecar) = await cluster.StartAsync("billing", (web, app) => web.MapPost("/declared", (BulkSubscribeMessage<BulkMessageModel<Placed>> bulk) =>
        {
            var batch = log.Record(bulk);
            foreach (var seen in batch)
            {
                log.Accepted.Enqueue(seen.Id);
            }

            return Results.Json(new BulkSubscribeAppResponse(batch.Select(s => new BulkSubscribeAppResponseEntry(s.EntryId, BulkSubscribeAppResponseStatus.SUCCESS)).ToList()));
        }));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        var ids = Enumerable.Range(0, 12).Select(i => $"y{i}").ToList();
        await Task.WhenAll(ids.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => log.Accepted.Distinct().Count() >= ids.Count, "every event through the declarative bulk subscription");
        Assert.Equal(ids.Order(), log.All.Select(s => s.Id).Order());
        Assert.All(log.Batches, b => Assert.InRange(b.Count, 1, 3));
        Assert.Contains(sidecar.Subscriptions, s => s.Topic == topic && s.Bulk is { MaxMessagesCount: 3, MaxAwaitDurationMs: 200 });
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_RoutingRules_EachEntryToItsOwnPath(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var seen = new ConcurrentQueue<(string Path, string Id)>();
        var billing = await cluster.StartAppAsync("billing", (web, a) =>
        {
            web.MapPost("/{path}", async (string path, HttpRequest r) =>
            {
                var body = await JsonSerializer.DeserializeAsync<JsonElement>(r.Body);
                var entries = body.GetProperty("entries").EnumerateArray().ToList();
                foreach (var e in entries)
                {
                    seen.Enqueue((path, e.GetProperty("event").GetProperty("data").GetProperty("id").GetString()!));
                }

                return Results.Json(new { statuses = entries.Select(e => new { entryId = e.GetProperty("entryId").GetString(), status = "SUCCESS" }) });
            });
            web.MapGet("/dapr/subscribe", () => Results.Json(new[]
            {
                new
                {
                    pubsubname = "pubsub", topic,
                    routes = new { rules = new[] { new { match = "event.data.id.startsWith(\"big\")", path = "/big" } }, @default = "/other" },
                    bulkSubscribe = new { enabled = true, maxMessagesCount = 10, maxAwaitDurationMs = 200 },
                },
            }));
        }, dapr: false);
        await cluster.StartSidecarAsync("billing", billing);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await Task.WhenAll(new[] { "big-1", "small-1", "big-2", "small-2" }.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => seen.Count >= 4, "four entries");
        Assert.Equal(new[] { ("big", "big-1"), ("big", "big-2"), ("other", "small-1"), ("other", "small-2") }, seen.Order());
    }

    [Fact]
    public async Task BulkSubscribe_InboundRetryPolicy_RetriesOnlyTheFailedEntries()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        cluster.WriteComponent("resiliency.yaml", Yaml.Resource("Resiliency", "resiliency", """
            policies:
              retries:
                quick:
                  policy: constant
                  duration: 20ms
                  maxRetries: 3
            targets:
              components:
                pubsub:
                  inbound:
                    retry: quick
            """));
        var topic = Topic();
        var log = new BulkLog();
        await cluster.StartAsync("billing", BulkApp(topic, log, maxMessages: 10, maxAwaitMs: 300,
            seen => seen.Id == "r1" && seen.Attempt == 1 ? BulkSubscribeAppResponseStatus.RETRY : BulkSubscribeAppResponseStatus.SUCCESS));
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await Task.WhenAll(new[] { "r1", "s1", "s2" }.Select(id => dapr.PublishEventAsync("pubsub", topic, new Placed(id))));

        await Poll.UntilAsync(() => log.Accepted.Contains("r1") && log.Accepted.Contains("s1") && log.Accepted.Contains("s2"), "all three accepted");
        var attempts = log.All.Where(s => s.Id == "r1").ToList();
        Assert.Equal(2, attempts.Count);
        // Retried by the sidecar's policy (same entry, alone in its envelope), not redelivered by the broker (a new entry).
        Assert.Equal(attempts[0].EntryId, attempts[1].EntryId);
        Assert.Equal(attempts[1], Assert.Single(log.Batches.Single(b => b.Contains(attempts[1]))));
        Assert.Equal(1, log.Attempts("s1"));
        Assert.Equal(1, log.Attempts("s2"));
    }

    [Fact]
    public async Task BulkSubscribe_Envelope_AsDaprdBuildsIt_CloudEventAndRawPayload()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (topic, rawTopic) = (Topic(), Topic());
        var bodies = new ConcurrentQueue<(string Path, string? ContentType, JsonElement Body)>();
        var billing = await cluster.StartAppAsync("billing", (web, a) =>
        {
            // No Dapr middleware: this app reads the envelope exactly as the sidecar posts it.
            web.MapPost("/{path}", async (string path, HttpRequest r) =>
            {
                var body = await JsonSerializer.DeserializeAsync<JsonElement>(r.Body);
                bodies.Enqueue((path, r.ContentType, body));
                var statuses = body.GetProperty("entries").EnumerateArray().Select(e => new { entryId = e.GetProperty("entryId").GetString(), status = "SUCCESS" });
                return Results.Json(new { statuses });
            });
            web.MapGet("/dapr/subscribe", () => Results.Json(new object[]
            {
                new { pubsubname = "pubsub", topic, route = "/ce", bulkSubscribe = new { enabled = true, maxMessagesCount = 10, maxAwaitDurationMs = 100 } },
                new
                {
                    pubsubname = "pubsub", topic = rawTopic, route = "/raw", metadata = new { rawPayload = "true" },
                    bulkSubscribe = new { enabled = true, maxMessagesCount = 10, maxAwaitDurationMs = 100 },
                },
            }));
        }, dapr: false);
        await cluster.StartSidecarAsync("billing", billing);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("c1"));
        await dapr.PublishEventAsync("pubsub", rawTopic, new Placed("w1"), new Dictionary<string, string> { ["rawPayload"] = "true" });

        await Poll.UntilAsync(() => bodies.Count >= 2, "both envelopes");
        var (_, ceType, ce) = bodies.Single(b => b.Path == "ce");
        Assert.StartsWith("application/json", ceType, StringComparison.Ordinal);
        Assert.Equal("com.dapr.event.sent.bulk", ce.GetProperty("type").GetString());
        Assert.Equal(topic, ce.GetProperty("topic").GetString());
        Assert.Equal("pubsub", ce.GetProperty("pubsubname").GetString());
        Assert.True(Guid.TryParse(ce.GetProperty("id").GetString(), out _));
        Assert.Equal("pubsub", ce.GetProperty("metadata").GetProperty("pubsubName").GetString());
        var entry = ce.GetProperty("entries").EnumerateArray().Single();
        Assert.True(Guid.TryParse(entry.GetProperty("entryId").GetString(), out _));
        Assert.Equal("application/cloudevents+json", entry.GetProperty("contentType").GetString());
        Assert.Equal(JsonValueKind.Object, entry.GetProperty("metadata").ValueKind);
        var cloudEvent = entry.GetProperty("event");
        Assert.Equal("c1", cloudEvent.GetProperty("data").GetProperty("id").GetString());
        Assert.Equal("com.dapr.event.sent", cloudEvent.GetProperty("type").GetString());
        Assert.Equal(topic, cloudEvent.GetProperty("topic").GetString());

        var (_, _, raw) = bodies.Single(b => b.Path == "raw");
        var rawEntry = raw.GetProperty("entries").EnumerateArray().Single();
        Assert.Equal("application/octet-stream", rawEntry.GetProperty("contentType").GetString());
        var payload = JsonDocument.Parse(Convert.FromBase64String(rawEntry.GetProperty("event").GetString()!)).RootElement;
        Assert.Equal("w1", payload.GetProperty("id").GetString());
    }
}
