using System.Collections.Concurrent;
using Dapr;
using Grpc.Core;
using Grpc.Net.Client;
using Proto = Dapr.Client.Autogen.Grpc.v1;

namespace Platform.Sidecar.Tests.Configuration;

/// <summary>
/// The configuration API (daprd <c>pkg/api/http/http.go</c>, <c>pkg/api/grpc/grpc.go</c>) through the .NET SDK
/// (<c>GetConfiguration</c>, <c>SubscribeConfiguration</c>, <c>UnsubscribeConfiguration</c>: gRPC) and raw HTTP, on
/// <c>configuration.redis</c> against a real Redis, where the test writes keys as an operator would
/// (<c>SET key "value||version"</c>), and on <c>configuration.local.file</c>, where it rewrites the file.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ConfigurationTests(RedisServer redis)
{
    private const string Store = "configstore";

    /// <summary>A cluster with a configuration store, and how an operator writes and deletes its keys.</summary>
    private sealed class Setup(Cluster cluster, Func<string, string?, Task> write) : IAsyncDisposable
    {
        private readonly List<HttpClient> _http = [];

        public Cluster Cluster { get; } = cluster;

        /// <summary>Sets <paramref name="key"/> to <paramref name="stored"/> (<c>value||version</c>); null deletes it.</summary>
        public Task WriteAsync(string key, string? stored) => write(key, stored);

        /// <summary>Starts a sidecar of <c>orders</c> and returns its SDK client.</summary>
        public async Task<DaprClient> StartClientAsync() => Cluster.Client(await Cluster.StartSidecarAsync("orders"));

        /// <summary>Starts a sidecar of <c>orders</c> and returns it with a client of its HTTP API (disposed with the setup).</summary>
        public async Task<(SidecarHost Sidecar, HttpClient Http)> StartHttpAsync()
        {
            var sidecar = await Cluster.StartSidecarAsync("orders");
            return (sidecar, HttpOf(sidecar));
        }

        /// <summary>A client of <paramref name="sidecar"/>'s HTTP API (disposed with the setup).</summary>
        public HttpClient HttpOf(SidecarHost sidecar)
        {
            var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
            _http.Add(http);
            return http;
        }

        public async ValueTask DisposeAsync()
        {
            _http.ForEach(h => h.Dispose());
            await Cluster.DisposeAsync();
        }
    }

    private Setup NewSetup(Backend backend)
    {
        var cluster = Cluster.Create(backend, redis);
        if (backend == Backend.Redis)
        {
            cluster.WriteComponent("configstore.yaml", Yaml.Component(Store, "configuration.redis", ("redisHost", redis.Host)));
            return new Setup(cluster, (key, stored) => stored is null ? redis.Db.KeyDeleteAsync(key) : redis.Db.StringSetAsync(key, stored));
        }

        var file = cluster.WriteFile("configuration.json", "{}");
        var content = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var gate = new SemaphoreSlim(1, 1);
        cluster.WriteComponent("configstore.yaml", Yaml.Component(Store, "configuration.local.file", ("configFile", file), ("pollInterval", "100ms")));
        return new Setup(cluster, async (key, stored) =>
        {
            await gate.WaitAsync();
            try
            {
                if (stored is null)
                {
                    content.TryRemove(key, out _);
                }
                else
                {
                    content[key] = stored;
                }

                // Written aside and moved over the file, as an editor saves it: the store never reads half a file.
                var temp = file + ".tmp";
                await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(content));
                File.Move(temp, file, overwrite: true);
            }
            finally
            {
                gate.Release();
            }
        });
    }

    private static string NewKey(string name) => $"cfg-{Guid.NewGuid():N}-{name}";

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Get_KeysAnOperatorWrote_ValueAndVersion_MissingAndEmptyLeftOut(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var dapr = await setup.StartClientAsync();
        var (a, b, empty) = (NewKey("a"), NewKey("b"), NewKey("empty"));
        await setup.WriteAsync(a, "v1||1");
        await setup.WriteAsync(b, "plain");
        await setup.WriteAsync(empty, "||7");

        var hash = NewKey("hash");
        if (backend == Backend.Redis)
        {
            await redis.Db.HashSetAsync(hash, "field", "value"); // not a string: contrib leaves it out (WRONGTYPE)
        }

        var got = await dapr.GetConfiguration(Store, [a, b, empty, hash, NewKey("missing")]);

        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), got.Items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("v1", "1"), (got.Items[a].Value, got.Items[a].Version));
        Assert.Equal(("plain", ""), (got.Items[b].Value, got.Items[b].Version));

        // No keys: every key (on Redis, other tests' keys as well).
        var all = await dapr.GetConfiguration(Store, []);
        Assert.Equal("v1", all.Items[a].Value);
        Assert.Equal("plain", all.Items[b].Value);
        Assert.False(all.Items.ContainsKey(empty));
        Assert.False(all.Items.ContainsKey(hash));
    }

    [Theory]
    [InlineData(Backend.InMemory, "v1.0")]
    [InlineData(Backend.InMemory, "v1.0-alpha1")]
    [InlineData(Backend.Redis, "v1.0")]
    [InlineData(Backend.Redis, "v1.0-alpha1")]
    public async Task Http_Get_DaprdsJson_EmptyFieldsLeftOut_204WhenNothingMatches(Backend backend, string version)
    {
        await using var setup = NewSetup(backend);
        var (_, http) = await setup.StartHttpAsync();
        var (a, b) = (NewKey("a"), NewKey("b"));
        await setup.WriteAsync(a, "v1||1");
        await setup.WriteAsync(b, "plain");

        var response = await http.GetAsync($"/{version}/configuration/{Store}?key={a}&key={b}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"{{\"value\":\"v1\",\"version\":\"1\"}}", body.GetProperty(a).GetRawText());
        Assert.Equal($"{{\"value\":\"plain\"}}", body.GetProperty(b).GetRawText());
        Assert.Equal(2, body.EnumerateObject().Count());

        var none = await http.GetAsync($"/{version}/configuration/{Store}?key={NewKey("missing")}");
        Assert.Equal(HttpStatusCode.NoContent, none.StatusCode);
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Subscribe_UpdatesAndDeletesAfterSubscribing_Arrive_AndTheStreamEndsOnUnsubscribe(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var dapr = await setup.StartClientAsync();
        var (a, other) = (NewKey("a"), NewKey("other"));
        await setup.WriteAsync(a, "v1||1");

        var first = await Subscription.StartAsync(dapr, [a]);
        Assert.Empty(first.Updates); // the first message carries only the id

        await setup.WriteAsync(other, "x||1"); // not subscribed
        await setup.WriteAsync(a, "v2||2");
        await Poll.UntilAsync(() => first.Saw(a, "v2", "2"), "the update of a after subscribing");
        await setup.WriteAsync(a, null);
        await Poll.UntilAsync(() => first.Saw(a, "", ""), "the delete of a, as an empty item");

        var unsubscribed = await dapr.UnsubscribeConfiguration(Store, first.Id);
        Assert.True(unsubscribed.Ok);
        await first.Ended.WaitAsync(TimeSpan.FromSeconds(15)); // daprd ends the stream; it completes without an error

        // Nothing after the unsubscribe: write v3, then a marker v4 that a later subscription must see, so
        // delivery has had its chance.
        await setup.WriteAsync(a, "v3||3");
        var second = await Subscription.StartAsync(dapr, [a]);
        await setup.WriteAsync(a, "v4||4");
        await Poll.UntilAsync(() => second.Saw(a, "v4", "4"), "the marker update on the second subscription");
        Assert.DoesNotContain(first.Updates, u => u.ContainsKey(other) || u[a].Value is "v3" or "v4");
        Assert.DoesNotContain(second.Updates, u => u[a].Value == "v3");
        Assert.All(first.Updates.Concat(second.Updates), u => Assert.Single(u));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Subscribe_WithoutKeys_SeesAnyKey(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var dapr = await setup.StartClientAsync();
        var (a, b) = (NewKey("a"), NewKey("b"));

        var all = await Subscription.StartAsync(dapr, []);
        await setup.WriteAsync(a, "one||1");
        await setup.WriteAsync(b, "two");

        await Poll.UntilAsync(() => all.Saw(a, "one", "1") && all.Saw(b, "two", ""), "updates of two keys");
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task HttpSubscribe_PostsEachUpdateToTheApp_NothingAfterUnsubscribe(Backend backend)
    {
        await using var setup = NewSetup(backend);
        var posts = new ConcurrentQueue<(string Path, string ContentType, JsonElement Body)>();
        var (_, sidecar) = await setup.Cluster.StartAsync("orders", (web, _) =>
            web.MapPost("/configuration/{store}/{key}", async (HttpContext ctx) =>
            {
                var body = await JsonSerializer.DeserializeAsync<JsonElement>(ctx.Request.Body);
                posts.Enqueue((ctx.Request.Path.Value!, ctx.Request.ContentType ?? "", body));
                return Results.Ok();
            }));
        var http = setup.HttpOf(sidecar);
        var a = NewKey("a");
        await setup.WriteAsync(a, "v1||1");

        var id1 = (await http.GetFromJsonAsync<JsonElement>($"/v1.0/configuration/{Store}/subscribe?key={a}")).GetProperty("id").GetString()!;
        await setup.WriteAsync(a, "v2||2");

        await Poll.UntilAsync(() => posts.Any(p => p.Body.GetProperty("id").GetString() == id1), "the update posted to the app");
        var post = posts.Single(p => p.Body.GetProperty("id").GetString() == id1);
        Assert.Equal($"/configuration/{Store}/{a}", post.Path);
        Assert.Equal("application/json", post.ContentType);
        Assert.Equal($"{{\"{a}\":{{\"value\":\"v2\",\"version\":\"2\"}}}}", post.Body.GetProperty("items").GetRawText());

        var unsubscribe = await http.GetAsync($"/v1.0/configuration/{Store}/{id1}/unsubscribe");
        Assert.Equal(HttpStatusCode.OK, unsubscribe.StatusCode);
        Assert.Equal("{\"ok\":true}", await unsubscribe.Content.ReadAsStringAsync());

        await setup.WriteAsync(a, "v3||3");
        var id2 = (await http.GetFromJsonAsync<JsonElement>($"/v1.0-alpha1/configuration/{Store}/subscribe?key={a}")).GetProperty("id").GetString()!;
        await setup.WriteAsync(a, "v4||4");
        await Poll.UntilAsync(() => posts.Any(p => p.Body.GetProperty("id").GetString() == id2), "the marker update for the second subscription");
        Assert.Single(posts, p => p.Body.GetProperty("id").GetString() == id1);
        Assert.Equal("v4", posts.Single(p => p.Body.GetProperty("id").GetString() == id2).Body.GetProperty("items").GetProperty(a).GetProperty("value").GetString());

        // The same id again: the store has no such subscription: 500 with daprd's {ok:false, message}.
        var again = await http.GetAsync($"/v1.0/configuration/{Store}/{id1}/unsubscribe");
        Assert.Equal(HttpStatusCode.InternalServerError, again.StatusCode);
        var refused = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(refused.GetProperty("ok").GetBoolean());
        Assert.Equal($"failed to unsubscribe to configuration request {id1}: subscription with id {id1} does not exist", refused.GetProperty("message").GetString());
    }

    [Fact]
    public async Task HttpSubscribe_WithoutAnApp_ErrAppChannelNil()
    {
        await using var setup = NewSetup(Backend.InMemory);
        var (_, http) = await setup.StartHttpAsync();

        var response = await http.GetAsync($"/v1.0/configuration/{Store}/subscribe?key=a");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("ERR_APP_CHANNEL_NIL", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task UnknownStore_And_NoStore_DaprdsErrorCodes()
    {
        await using var setup = NewSetup(Backend.InMemory);
        var (sidecar, http) = await setup.StartHttpAsync();
        var dapr = setup.Cluster.Client(sidecar);

        foreach (var path in (string[])["/v1.0/configuration/nope?key=a", "/v1.0-alpha1/configuration/nope", "/v1.0/configuration/nope/subscribe", "/v1.0/configuration/nope/some-id/unsubscribe"])
        {
            var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("ERR_CONFIGURATION_STORE_NOT_FOUND", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        }

        var get = Rpc(await Assert.ThrowsAnyAsync<Exception>(() => dapr.GetConfiguration("nope", ["a"])));
        Assert.Equal(StatusCode.InvalidArgument, get.StatusCode);
        Assert.Equal("configuration store nope not found", get.Status.Detail);
        var status = Google.Rpc.Status.Parser.ParseFrom(get.Trailers.GetValueBytes("grpc-status-details-bin"));
        Assert.Equal("ERR_CONFIGURATION_STORE_NOT_FOUND", status.Details.Single().Unpack<Google.Rpc.ErrorInfo>().Reason);

        var subscription = await dapr.SubscribeConfiguration("nope", ["a"]);
        var subscribe = Rpc(await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in subscription.Source)
            {
            }
        }));
        Assert.Equal(StatusCode.InvalidArgument, subscribe.StatusCode);

        // gRPC unsubscribe of an id no stream has: OK, with ok=false and daprd's message.
        var unsubscribe = await dapr.UnsubscribeConfiguration(Store, "no-such-id");
        Assert.False(unsubscribe.Ok);
        Assert.Equal("failed to unsubscribe to configuration request no-such-id: subscription does not exist", unsubscribe.Message);

        await using var bare = Cluster.Create(Backend.InMemory);
        var noStore = await bare.StartSidecarAsync("orders");
        using var http2 = new HttpClient { BaseAddress = new Uri(noStore.HttpEndpoint) };
        var notConfigured = await http2.GetAsync($"/v1.0/configuration/{Store}?key=a");
        Assert.Equal(HttpStatusCode.InternalServerError, notConfigured.StatusCode);
        Assert.Equal("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", (await notConfigured.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        using var channel = GrpcChannel.ForAddress(noStore.GrpcEndpoint);
        var raw = new Proto.Dapr.DaprClient(channel);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await raw.GetConfigurationAlpha1Async(new Proto.GetConfigurationRequest { StoreName = Store }));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
    }

    [Fact]
    public async Task Redis_Subscribe_TurnsOnKeyspaceNotifications_AsContribDoes()
    {
        await redis.Db.ExecuteAsync("CONFIG", "SET", "notify-keyspace-events", "");
        await using var setup = NewSetup(Backend.Redis);
        var dapr = await setup.StartClientAsync();
        var a = NewKey("a");

        var subscription = await Subscription.StartAsync(dapr, [a]);

        var flags = (string)(await redis.Db.ExecuteAsync("CONFIG", "GET", "notify-keyspace-events"))[1]!;
        Assert.All("Kg$xe", f => Assert.Contains(f, flags));
        await setup.WriteAsync(a, "on||1");
        await Poll.UntilAsync(() => subscription.Saw(a, "on", "1"), "the update once notifications are on");
    }

    /// <summary>
    /// The API token guards the streaming method too. (Today the HTTP pipeline's token check, which also sees the
    /// gRPC port's requests, refuses it before the gRPC interceptor's server-streaming override is reached.)
    /// </summary>
    [Fact]
    public async Task Subscribe_WithoutTheApiToken_Unauthenticated_WithIt_Streams()
    {
        await using var setup = NewSetup(Backend.InMemory);
        var sidecar = await setup.Cluster.StartSidecarAsync("orders", configure: o => o with { ApiToken = "secret-token" });
        using var channel = GrpcChannel.ForAddress(sidecar.GrpcEndpoint);
        var raw = new Proto.Dapr.DaprClient(channel);

        using var call = raw.SubscribeConfiguration(new Proto.SubscribeConfigurationRequest { StoreName = Store });
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);

        var subscription = await Subscription.StartAsync(setup.Cluster.Client(sidecar, "secret-token"), []);
        Assert.NotEmpty(subscription.Id);
    }

    private static RpcException Rpc(Exception e) => e as RpcException ?? Assert.IsType<RpcException>(e.InnerException);

    /// <summary>An SDK subscription read in the background: its id (from the first message) and every update after it.</summary>
    private sealed class Subscription
    {
        private readonly ConcurrentQueue<IDictionary<string, ConfigurationItem>> _updates = new();

        public string Id { get; private set; } = "";

        public IReadOnlyCollection<IDictionary<string, ConfigurationItem>> Updates => _updates;

        /// <summary>Completes when the sidecar ends the stream.</summary>
        public Task Ended { get; private set; } = Task.CompletedTask;

        public bool Saw(string key, string value, string version) =>
            _updates.Any(u => u.TryGetValue(key, out var item) && item.Value == value && item.Version == version);

        public static async Task<Subscription> StartAsync(DaprClient dapr, IReadOnlyList<string> keys)
        {
            var self = new Subscription();
            var response = await dapr.SubscribeConfiguration(Store, keys);
            var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            self.Ended = Task.Run(async () =>
            {
                await foreach (var items in response.Source)
                {
                    if (first.Task.IsCompleted)
                    {
                        self._updates.Enqueue(items);
                    }
                    else
                    {
                        Assert.Empty(items);
                        self.Id = response.Id;
                        first.TrySetResult();
                    }
                }
            });
            await Task.WhenAny(first.Task, self.Ended).WaitAsync(TimeSpan.FromSeconds(15));
            Assert.True(first.Task.IsCompleted, $"no first message: {self.Ended.Exception?.GetBaseException().Message}");
            Assert.NotEmpty(self.Id);
            return self;
        }
    }
}
