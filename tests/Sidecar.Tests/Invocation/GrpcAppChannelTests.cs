using System.Collections.Concurrent;
using System.Diagnostics;
using Dapr.AppCallback.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.Tests.PubSub;
using Common = Dapr.Client.Autogen.Grpc.v1;
using Status = Grpc.Core.Status;

// InvokeMethodAsync is obsolete in the SDK but it is what most existing apps call: the sidecar must serve it.
#pragma warning disable CS0618

namespace Platform.Sidecar.Tests.Invocation;

/// <summary>
/// <c>--app-protocol grpc</c>: the sidecar reaches its app through the app's <c>AppCallback</c> service (daprd's gRPC
/// app channel): invocation (<c>OnInvoke</c>), subscriptions (<c>ListTopicSubscriptions</c>), delivery
/// (<c>OnTopicEvent</c>, <c>OnBulkTopicEvent</c>/<c>Alpha1</c>), the concurrency cap, the app token, traces; and
/// <c>--app-protocol h2c</c>, the HTTP channel over cleartext HTTP/2.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class GrpcAppChannelTests(RedisServer redis)
{
    private static string Topic() => $"grpc-{Guid.NewGuid():N}";

    private static TopicEventResponse Answer(TopicEventResponse.Types.TopicEventResponseStatus status) => new() { Status = status };

    private static TopicSubscription Subscription(string topic, string? route = null, string? deadLetterTopic = null)
    {
        var s = new TopicSubscription { PubsubName = "pubsub", Topic = topic, Routes = new TopicRoutes { Default = route ?? "/" + topic } };
        if (deadLetterTopic is not null)
        {
            s.DeadLetterTopic = deadLetterTopic;
        }

        return s;
    }

    private static string IdOf(TopicEventRequest e) => JsonDocument.Parse(e.Data.ToByteArray()).RootElement.GetProperty("id").GetString()!;

    // ---- invocation ----

    [Fact]
    public async Task InvokeMethodAsync_ReachesOnInvoke_VerbQueryAndAnswerComeBack()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        Common.InvokeRequest? seen = null;
        Metadata? headers = null;
        var (_, pricing) = await cluster.StartGrpcAsync("pricing", app => app.OnInvoke = (request, context) =>
        {
            seen = request;
            headers = context.RequestHeaders;
            var quote = new { method = request.Method, verb = request.HttpExtension.Verb.ToString(), query = request.HttpExtension.Querystring, body = request.Data.Value.ToStringUtf8() };
            return Task.FromResult(new Common.InvokeResponse
            {
                ContentType = "application/json",
                Data = new Any { Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(quote)) },
            });
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        using var request = dapr.CreateInvokeMethodRequest(HttpMethod.Put, "pricing", "quote/item-1", [new("currency", "EUR"), new("qty", "2")], new { sku = "s-1" });
        var answer = await dapr.InvokeMethodAsync<JsonElement>(request);

        Assert.Equal("quote/item-1", answer.GetProperty("method").GetString());
        Assert.Equal("Put", answer.GetProperty("verb").GetString());
        Assert.Equal("currency=EUR&qty=2", answer.GetProperty("query").GetString());
        Assert.Equal("""{"sku":"s-1"}""", answer.GetProperty("body").GetString());
        Assert.StartsWith("application/json", seen!.ContentType, StringComparison.Ordinal);
        Assert.Equal("orders", headers!.GetValue("dapr-caller-app-id"));
        Assert.Equal("pricing", headers.GetValue("dapr-callee-app-id"));

        // The metadata API says how the sidecar reaches its app.
        using var http = new HttpClient();
        using var metadata = JsonDocument.Parse(await http.GetStringAsync($"{pricing.HttpEndpoint}/v1.0/metadata"));
        Assert.Equal("grpc", metadata.RootElement.GetProperty("appConnectionProperties").GetProperty("protocol").GetString());
    }

    [Fact]
    public async Task InvokeMethodGrpcAsync_DataAndAnswerTravelAsAny()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        Common.InvokeRequest? seen = null;
        await cluster.StartGrpcAsync("pricing", app => app.OnInvoke = (request, _) =>
        {
            seen = request;
            var text = request.Data.Unpack<StringValue>().Value;
            return Task.FromResult(new Common.InvokeResponse { Data = Any.Pack(new Int32Value { Value = text.Length }) });
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        var length = await dapr.InvokeMethodGrpcAsync<StringValue, Int32Value>("pricing", "measure", new StringValue { Value = "seven!!" });

        Assert.Equal(7, length.Value);
        Assert.Equal("measure", seen!.Method);
        Assert.Equal(Any.Pack(new StringValue()).TypeUrl, seen.Data.TypeUrl);
    }

    [Fact]
    public async Task AppError_ComesBackAsDaprdReturnsIt()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        await cluster.StartGrpcAsync("pricing", app => app.OnInvoke = (_, _) =>
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "out of stock")));
        var orders = await cluster.StartSidecarAsync("orders");

        // A gRPC caller gets the app's status as the app gave it (daprd InvokeService: ErrorFromInternalStatus).
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(orders.GrpcEndpoint);
        var client = new Common.Dapr.DaprClient(channel);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.InvokeServiceAsync(new Common.InvokeServiceRequest
        {
            Id = "pricing",
            Message = new Common.InvokeRequest { Method = "reserve", HttpExtension = new Common.HTTPExtension { Verb = Common.HTTPExtension.Types.Verb.Post } },
        }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Equal("out of stock", e.Status.Detail);

        // An HTTP caller gets daprd's HTTP status for the code (FailedPrecondition: 400) and the status as JSON.
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{orders.HttpEndpoint}/v1.0/invoke/pricing/method/reserve", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)StatusCode.FailedPrecondition, body.RootElement.GetProperty("code").GetInt32());
        Assert.Equal("out of stock", body.RootElement.GetProperty("message").GetString());
        Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("x-platform-sidecar", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Invoke_Traceparent_ReachesTheAppInTheSameTrace()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (app, _) = await cluster.StartGrpcAsync("pricing", app => app.OnInvoke = (_, _) => Task.FromResult(new Common.InvokeResponse()));
        var orders = await cluster.StartSidecarAsync("orders");
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{orders.HttpEndpoint}/v1.0/invoke/pricing/method/ping");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = app.Calls.Single(c => c.Method == "OnInvoke").Headers;
        Assert.Equal(traceId, headers.GetValue("traceparent")!.Split('-')[1]);
        var bin = headers.GetValueBytes("grpc-trace-bin");
        Assert.NotNull(bin);
        Assert.Equal(traceId, Convert.ToHexStringLower(bin.AsSpan(2, 16)));
    }

    [Fact]
    public async Task AppApiToken_GoesAsDaprApiTokenMetadata()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (app, _) = await cluster.StartGrpcAsync("pricing", app =>
        {
            app.Subscriptions = [];
            app.OnInvoke = (_, _) => Task.FromResult(new Common.InvokeResponse());
        }, options: o => o with { AppApiToken = "app-s3cret" });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.InvokeMethodAsync("pricing", "ping");

        Assert.Equal("app-s3cret", app.Calls.Single(c => c.Method == "ListTopicSubscriptions").Headers.GetValue("dapr-api-token"));
        Assert.Equal("app-s3cret", app.Calls.Single(c => c.Method == "OnInvoke").Headers.GetValue("dapr-api-token"));
    }

    [Fact]
    public async Task AppMaxConcurrency1_AtMostOneCallInFlightAtTheApp()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        var inFlight = 0;
        var peak = 0;
        var events = 0;
        async Task Busy()
        {
            var now = Interlocked.Increment(ref inFlight);
            int seen;
            while ((seen = Volatile.Read(ref peak)) < now && Interlocked.CompareExchange(ref peak, now, seen) != seen)
            {
            }

            await Task.Delay(20);
            Interlocked.Decrement(ref inFlight);
        }

        await cluster.StartGrpcAsync("solver", app =>
        {
            app.Subscriptions = [Subscription(topic)];
            app.OnInvoke = async (_, _) =>
            {
                await Busy();
                return new Common.InvokeResponse();
            };
            app.OnTopicEvent = async (_, _) =>
            {
                await Busy();
                Interlocked.Increment(ref events);
                return Answer(TopicEventResponse.Types.TopicEventResponseStatus.Success);
            };
        }, maxConcurrency: 1);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("routing"));

        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => i % 2 == 0
            ? dapr.InvokeMethodAsync("solver", "solve")
            : dapr.PublishEventAsync("pubsub", topic, new Placed($"p{i}"))));
        await Poll.UntilAsync(() => Volatile.Read(ref events) >= 5, "the five events");

        Assert.Equal(1, peak);
    }

    // ---- subscriptions and delivery ----

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task ListedSubscriptions_AreDelivered_WithTheCloudEventFieldsAsDaprdFillsThem(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var received = new ConcurrentQueue<(TopicEventRequest Event, Metadata Headers)>();
        var subscription = new TopicSubscription { PubsubName = "pubsub", Topic = topic, Routes = new TopicRoutes { Default = "/other" } };
        subscription.Routes.Rules.Add(new TopicRule { Match = "event.data.id.startsWith(\"big\")", Path = "/big" });
        await cluster.StartGrpcAsync("billing", app =>
        {
            app.Subscriptions = [subscription];
            app.OnTopicEvent = (e, context) =>
            {
                received.Enqueue((e, context.RequestHeaders));
                return Task.FromResult(Answer(TopicEventResponse.Types.TopicEventResponseStatus.Success));
            };
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("big-1"));
        await dapr.PublishEventAsync("pubsub", topic, new Placed("small-1"));

        await Poll.UntilAsync(() => received.Count >= 2, "two deliveries");
        var big = received.Single(r => IdOf(r.Event) == "big-1");
        var small = received.Single(r => IdOf(r.Event) == "small-1");
        Assert.Equal("/big", big.Event.Path);
        Assert.Equal("/other", small.Event.Path);
        var e = big.Event;
        Assert.Equal(topic, e.Topic);
        Assert.Equal("pubsub", e.PubsubName);
        Assert.Equal("orders", e.Source);
        Assert.Equal("com.dapr.event.sent", e.Type);
        Assert.Equal("1.0", e.SpecVersion);
        Assert.Equal("application/json", e.DataContentType);
        Assert.True(Guid.TryParse(e.Id, out _), e.Id);
        Assert.Equal("big-1", JsonDocument.Parse(e.Data.ToByteArray()).RootElement.GetProperty("id").GetString());
        // Every other CloudEvent attribute is an extension.
        Assert.Equal(topic, e.Extensions.Fields["topic"].StringValue);
        Assert.Equal("pubsub", e.Extensions.Fields["pubsubname"].StringValue);
        Assert.StartsWith("00-", e.Extensions.Fields["traceparent"].StringValue, StringComparison.Ordinal);
        Assert.False(e.Extensions.Fields.ContainsKey("id"));
        Assert.False(e.Extensions.Fields.ContainsKey("data"));
        Assert.Equal("pubsub", big.Headers.GetValue("pubsubname"));
        Assert.NotNull(big.Headers.GetValue("traceparent"));
    }

    [Fact]
    public async Task EventData_AsDaprdEncodesIt_JsonSortedTextAsIsRawPayloadBytes()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (json, text, raw) = (Topic(), Topic(), Topic());
        var received = new ConcurrentDictionary<string, TopicEventRequest>();
        var rawSubscription = Subscription(raw);
        rawSubscription.Metadata["rawPayload"] = "true";
        await cluster.StartGrpcAsync("billing", app =>
        {
            app.Subscriptions = [Subscription(json), Subscription(text), rawSubscription];
            app.OnTopicEvent = (e, _) =>
            {
                received[e.Topic] = e;
                return Task.FromResult(Answer(TopicEventResponse.Types.TopicEventResponseStatus.Success));
            };
        });
        var orders = await cluster.StartSidecarAsync("orders");
        using var http = new HttpClient { BaseAddress = new Uri(orders.HttpEndpoint) };

        (await http.PostAsync($"/v1.0/publish/pubsub/{json}", new StringContent("""{"b": 1, "a": {"d": true, "c": "x"}}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        (await http.PostAsync($"/v1.0/publish/pubsub/{text}", new StringContent("hello, grpc", Encoding.UTF8, "text/plain"))).EnsureSuccessStatusCode();
        (await http.PostAsync($"/v1.0/publish/pubsub/{raw}?metadata.rawPayload=true", new ByteArrayContent([0, 1, 2, 250]))).EnsureSuccessStatusCode();

        await Poll.UntilAsync(() => received.Count >= 3, "the three events");
        // JSON data as Go's encoding/json writes the decoded value: keys sorted, no spaces.
        Assert.Equal("""{"a":{"c":"x","d":true},"b":1}""", received[json].Data.ToStringUtf8());
        Assert.StartsWith("application/json", received[json].DataContentType, StringComparison.Ordinal);
        Assert.Equal("hello, grpc", received[text].Data.ToStringUtf8());
        Assert.StartsWith("text/plain", received[text].DataContentType, StringComparison.Ordinal);
        // A raw payload is wrapped with data_base64, which the gRPC envelope carries decoded.
        Assert.Equal(new byte[] { 0, 1, 2, 250 }, received[raw].Data.ToByteArray());
        Assert.False(received[raw].Extensions.Fields.ContainsKey("data_base64"));
    }

    [Fact]
    public async Task OnTopicEventUnimplemented_EventIsAcknowledged_NotDeadLettered_NotRedelivered()
    {
        // daprd (postman/grpc Deliver) takes Unimplemented as non-retriable and acknowledges the event.
        await using var cluster = Cluster.Create(Backend.InMemory);
        var (topic, dead) = (Topic(), Topic());
        // It subscribes to the dead-letter topic too, so a dead-lettered event would come back as a second call.
        var (app, _) = await cluster.StartGrpcAsync("billing", app => app.Subscriptions = [Subscription(topic, deadLetterTopic: dead), Subscription(dead)]);
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("u1"));

        await Poll.UntilAsync(() => app.Calls.Any(c => c.Method == "OnTopicEvent"), "the delivery");
        await Poll.StaysFalseAsync(() => app.Calls.Count(c => c.Method == "OnTopicEvent") > 1, "an Unimplemented event was delivered again (redelivered or dead-lettered)", TimeSpan.FromSeconds(1.5));
    }

    [Theory]
    [InlineData(Backend.InMemory, "RETRY")]
    [InlineData(Backend.Redis, "RETRY")]
    [InlineData(Backend.InMemory, "RpcException")]
    [InlineData(Backend.Redis, "RpcException")]
    public async Task Failure_IsRedelivered_UntilSuccess(Backend backend, string failure)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var topic = Topic();
        var attempts = new ConcurrentDictionary<string, int>();
        var (app, _) = await cluster.StartGrpcAsync("billing", app =>
        {
            app.Subscriptions = [Subscription(topic)];
            app.OnTopicEvent = (e, _) =>
            {
                var id = IdOf(e);
                var n = attempts.AddOrUpdate(id, 1, (_, v) => v + 1);
                app.Received.Enqueue($"{id}:{n}");
                if (n <= 2)
                {
                    return failure == "RETRY"
                        ? Task.FromResult(Answer(TopicEventResponse.Types.TopicEventResponseStatus.Retry))
                        : throw new RpcException(new Status(StatusCode.Internal, "not now"));
                }

                return Task.FromResult(Answer(TopicEventResponse.Types.TopicEventResponseStatus.Success));
            };
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("r1"));

        await Poll.UntilAsync(() => app.Received.Contains("r1:3"), "the third (successful) delivery");
        await Poll.StaysFalseAsync(() => app.Received.Contains("r1:4"), "an event was redelivered after SUCCESS", TimeSpan.FromMilliseconds(1500));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Drop_GoesToTheDeadLetterTopic_AndIsNotRedelivered(Backend backend)
    {
        await using var cluster = Cluster.Create(backend, redis);
        var (topic, dead) = (Topic(), Topic());
        var (app, _) = await cluster.StartGrpcAsync("billing", app =>
        {
            app.Subscriptions = [Subscription(topic, deadLetterTopic: dead), Subscription(dead)];
            app.OnTopicEvent = (e, _) =>
            {
                app.Received.Enqueue($"{e.Path}:{IdOf(e)}");
                return Task.FromResult(Answer(e.Topic == topic ? TopicEventResponse.Types.TopicEventResponseStatus.Drop : TopicEventResponse.Types.TopicEventResponseStatus.Success));
            };
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        await dapr.PublishEventAsync("pubsub", topic, new Placed("x1"));

        await Poll.UntilAsync(() => app.Received.Contains($"/{dead}:x1"), "the dropped event on the dead-letter topic");
        await Poll.StaysFalseAsync(() => app.Received.Count(r => r == $"/{topic}:x1") > 1, "a dropped event was redelivered", TimeSpan.FromSeconds(1));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task BulkSubscribe_OverGrpc_PerEntryStatusesHonoured(Backend backend)
    {
        // The app implements only AppCallbackAlpha.OnBulkTopicEventAlpha1 (as the JS SDK): the sidecar falls back to it.
        // Two bulk subscriptions: RETRY entries on one without a dead-letter topic are redelivered (with one, they
        // would be dead-lettered, as daprd does); DROP entries on one with a dead-letter topic go there.
        await using var cluster = Cluster.Create(backend, redis);
        var (retried, dropped, dead) = (Topic(), Topic(), Topic());
        var attempts = new ConcurrentDictionary<string, int>();
        var batches = new ConcurrentQueue<int>();
        var bulk = new BulkSubscribeConfig { Enabled = true, MaxMessagesCount = 10, MaxAwaitDurationMs = 200 };
        var withRetries = Subscription(retried);
        withRetries.BulkSubscribe = bulk;
        var withDrops = Subscription(dropped, deadLetterTopic: dead);
        withDrops.BulkSubscribe = bulk;
        var (app, _) = await cluster.StartGrpcAsync("billing", app =>
        {
            app.Subscriptions = [withRetries, withDrops, Subscription(dead)];
            app.OnBulkTopicEventAlpha1 = (request, _) =>
            {
                batches.Enqueue(request.Entries.Count);
                var response = new TopicEventBulkResponse();
                foreach (var entry in request.Entries)
                {
                    var id = JsonDocument.Parse(entry.CloudEvent.Data.ToByteArray()).RootElement.GetProperty("id").GetString()!;
                    var n = attempts.AddOrUpdate(id, 1, (_, v) => v + 1);
                    app.Received.Enqueue($"bulk:{id}:{n}:{entry.CloudEvent.Extensions.Fields["topic"].StringValue == request.Topic}");
                    var status = id switch
                    {
                        _ when id.StartsWith("retry", StringComparison.Ordinal) && n == 1 => TopicEventResponse.Types.TopicEventResponseStatus.Retry,
                        _ when id.StartsWith("drop", StringComparison.Ordinal) => TopicEventResponse.Types.TopicEventResponseStatus.Drop,
                        _ => TopicEventResponse.Types.TopicEventResponseStatus.Success,
                    };
                    response.Statuses.Add(new TopicEventBulkResponseEntry { EntryId = entry.EntryId, Status = status });
                }

                return Task.FromResult(response);
            };
            app.OnTopicEvent = (e, _) =>
            {
                app.Received.Enqueue($"dead:{IdOf(e)}");
                return Task.FromResult(Answer(TopicEventResponse.Types.TopicEventResponseStatus.Success));
            };
        });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        string[] toRetried = ["ok-1", "retry-1", "ok-2", "retry-2"];
        string[] toDropped = ["ok-3", "drop-1", "ok-4"];
        await Task.WhenAll(toRetried.Select(id => dapr.PublishEventAsync("pubsub", retried, new Placed(id)))
            .Concat(toDropped.Select(id => dapr.PublishEventAsync("pubsub", dropped, new Placed(id)))));

        await Poll.UntilAsync(() => app.Received.Contains("bulk:retry-1:2:True") && app.Received.Contains("bulk:retry-2:2:True") && app.Received.Contains("dead:drop-1"),
            "the RETRY entries again and the DROP entry on the dead-letter topic");
        await Poll.StaysFalseAsync(() => app.Received.Any(r => r.StartsWith("bulk:ok-", StringComparison.Ordinal) && !r.Contains(":1:", StringComparison.Ordinal))
            || app.Received.Any(r => r.StartsWith("bulk:drop-1:2", StringComparison.Ordinal) || r.StartsWith("bulk:retry-1:3", StringComparison.Ordinal)),
            "a SUCCESS or DROP entry came back", TimeSpan.FromSeconds(1));
        Assert.All(new[] { "ok-1", "ok-2", "ok-3", "ok-4" }, id => Assert.Contains($"bulk:{id}:1:True", app.Received));
        Assert.DoesNotContain(app.Received, r => r.StartsWith("dead:ok", StringComparison.Ordinal) || r.StartsWith("dead:retry", StringComparison.Ordinal));
        Assert.Contains(batches, n => n > 1);
    }

    // ---- h2c ----

    [Fact]
    public async Task H2c_HttpAppOverCleartextHttp2_InvocationAndDelivery()
    {
        await using var cluster = Cluster.Create(Backend.InMemory);
        var topic = Topic();
        await using var app = await TestApp.StartAsync("billing", (web, a) =>
        {
            web.MapPost("/version", (HttpRequest r) => Results.Json(r.Protocol));
            web.MapPost("/placed", (Placed e, HttpRequest r) =>
            {
                a.Received.Enqueue($"{r.Protocol}:{e.Id}");
                return Results.Ok();
            }).WithTopic("pubsub", topic);
        }, http2Only: true);
        await cluster.StartSidecarAsync("billing", app, configure: o => o with { AppProtocol = AppProtocol.H2c });
        var dapr = cluster.Client(await cluster.StartSidecarAsync("orders"));

        Assert.Equal("HTTP/2", await dapr.InvokeMethodAsync<string>(HttpMethod.Post, "billing", "version"));
        await dapr.PublishEventAsync("pubsub", topic, new Placed("h1"));
        await Poll.UntilAsync(() => app.Received.Contains("HTTP/2:h1"), "the event over HTTP/2");
    }

    // ---- the channel itself: bindings (for the input bindings work) and health ----

    [Fact]
    public async Task Channel_ListInputBindings_OnBindingEvent_HealthCheck()
    {
        await using var app = await GrpcTestApp.StartAsync(app =>
        {
            app.InputBindings = ["orders-queue"];
            app.OnBindingEvent = (e, context) =>
            {
                if (e.Name != "orders-queue")
                {
                    throw new RpcException(new Status(StatusCode.NotFound, $"no binding {e.Name}"));
                }

                app.Received.Enqueue($"{e.Name}:{e.Data.ToStringUtf8()}:{e.Metadata["source"]}:{context.RequestHeaders.GetValue("source")}");
                return Task.FromResult(new BindingEventResponse { Data = ByteString.CopyFromUtf8("thanks") });
            };
        });
        using var connection = new AppChannel("127.0.0.1", app.Port, 1, "tok");
        using var channel = new GrpcAppChannel(connection, "billing", hasApiToken: false, SidecarOptions.DefaultMaxBodySize, NullLogger.Instance);

        Assert.Equal(["orders-queue"], await channel.ListInputBindingsAsync(CancellationToken.None));
        var request = new BindingEventRequest { Name = "orders-queue", Data = ByteString.CopyFromUtf8("""{"n":1}""") };
        request.Metadata["source"] = "queue";
        var response = await channel.DeliverBindingEventAsync(request, CancellationToken.None);
        Assert.Equal("thanks", response.Data.ToStringUtf8());
        Assert.Equal(["orders-queue:{\"n\":1}:queue:queue"], app.Received);
        Assert.Equal("tok", app.Calls.First(c => c.Method == "OnBindingEvent").Headers.GetValue("dapr-api-token"));

        var failure = await Assert.ThrowsAsync<AppCallException>(() => channel.DeliverBindingEventAsync(new BindingEventRequest { Name = "other" }, CancellationToken.None));
        Assert.Equal(StatusCode.NotFound, failure.GrpcStatus);

        Assert.True(await channel.HealthCheckAsync(CancellationToken.None));
        await app.DisposeAsync();
        Assert.False(await channel.HealthCheckAsync(CancellationToken.None));
    }

    // ---- the option ----

    [Fact]
    public async Task Cli_UnknownAppProtocol_RefusedAtStart_NamingTheAcceptedValues()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { SidecarCli.Path(), "--app-id", "billing", "--app-protocol", "foo", "--dapr-http-port", "0", "--dapr-grpc-port", "0" })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("invalid value for 'app-protocol': foo", await stderr, StringComparison.Ordinal);
        Assert.Contains("http, grpc, h2c", await stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("sidecar ready", await stdout, StringComparison.Ordinal);
    }
}

