using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Tests.Resources;

/// <summary>Component YAML the sidecar cannot honour stops start-up with a message naming the file and the field.</summary>
public sealed class ResourceLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("platform-resources-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ResourceException LoadFails(string yaml, string app = "orders")
    {
        File.WriteAllText(Path.Combine(_dir, "bad.yaml"), yaml);
        var e = Assert.Throws<ResourceException>(() => ResourceLoader.Load([_dir], app));
        Assert.EndsWith("bad.yaml", e.File, StringComparison.Ordinal);
        Assert.StartsWith(e.File + ": " + e.Field + ": ", e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void Load_KafkaComponent_SaysItNeedsTheDaprRuntime()
    {
        var e = LoadFails(Yaml.Component("pubsub", "pubsub.kafka", ("brokers", "localhost:9092")));
        Assert.Equal("spec.type", e.Field);
        Assert.Contains("needs the Dapr runtime; use components/redis or components/local here", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_PulsarComponent_SaysItNeedsTheDaprRuntime() =>
        Assert.Contains("needs the Dapr runtime", LoadFails(Yaml.Component("pubsub", "pubsub.pulsar", ("host", "localhost:6650"))).Message, StringComparison.Ordinal);

    [Fact]
    public void Load_UnknownType_NamesTheTypesThatExist()
    {
        var e = LoadFails(Yaml.Component("x", "frobnicator.thing"));
        Assert.Equal("spec.type", e.Field);
        Assert.Contains("state.redis", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownMetadataName_NamesIt()
    {
        var e = LoadFails(Yaml.Component("statestore", "state.redis", ("redisHost", "localhost:6379"), ("redisHots", "oops")));
        Assert.Equal("spec.metadata[redisHots]", e.Field);
        Assert.Contains("redisPassword", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingRequiredField_NamesIt() =>
        Assert.Equal("spec.metadata[redisHost]", LoadFails(Yaml.Component("pubsub", "pubsub.redis", ("consumerID", "x"))).Field);

    [Fact]
    public void Load_NotYaml_SaysWhere() =>
        Assert.StartsWith("line ", LoadFails("apiVersion: dapr.io/v1alpha1\nkind: [Component\n").Field, StringComparison.Ordinal);

    [Fact]
    public void Load_WrongVersion_NamesIt() =>
        Assert.Equal("spec.version", LoadFails(Yaml.Component("s", "state.in-memory").Replace("version: v1", "version: v2", StringComparison.Ordinal)).Field);

    [Fact]
    public void Load_DuplicateName_NamesBothFiles()
    {
        File.WriteAllText(Path.Combine(_dir, "a.yaml"), Yaml.Component("statestore", "state.in-memory"));
        var e = LoadFails(Yaml.Component("statestore", "state.in-memory"));
        Assert.Contains("a.yaml", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownKind_NamesIt() =>
        Assert.Equal("kind", LoadFails("apiVersion: dapr.io/v1alpha1\nkind: Componnet\nmetadata:\n  name: x\n").Field);

    [Fact]
    public void Load_SubscriptionWithoutRoute_NamesIt() =>
        Assert.Equal("spec.routes", LoadFails("apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: s\nspec:\n  pubsubname: pubsub\n  topic: t\n").Field);

    [Fact]
    public void Load_SubscriptionWithUnsupportedMatch_NamesIt() =>
        Assert.Equal("spec.routes.rules[].match", LoadFails("apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: s\nspec:\n  pubsubname: pubsub\n  topic: t\n  routes:\n    rules:\n      - match: size(event.data) > 2\n        path: /x\n").Field);

    private const string BulkSubscription = "apiVersion: dapr.io/v1alpha1\nkind: Subscription\nmetadata:\n  name: s\nspec:\n  pubsubname: pubsub\n  topic: t\n  route: /x\n";

    [Fact]
    public void Load_SubscriptionBulkSubscribe_EnabledGetsDaprdDefaults_DisabledIsNone()
    {
        File.WriteAllText(Path.Combine(_dir, "on.yaml"), BulkSubscription + "  bulkSubscribe:\n    enabled: true\n");
        File.WriteAllText(Path.Combine(_dir, "off.yaml"), BulkSubscription.Replace("name: s", "name: off", StringComparison.Ordinal).Replace("topic: t", "topic: u", StringComparison.Ordinal)
            + "  bulkSubscribe:\n    enabled: false\n    maxMessagesCount: 5\n");

        var loaded = ResourceLoader.Load([_dir], "orders").Subscriptions;

        Assert.Equal(new BulkSubscribeOptions(100, 1000), loaded.Single(s => s.Topic == "t").Bulk);
        Assert.Null(loaded.Single(s => s.Topic == "u").Bulk);
    }

    [Fact]
    public void Load_SubscriptionBulkSubscribe_BadValue_NamesIt() =>
        Assert.Equal("spec.bulkSubscribe.maxMessagesCount", LoadFails(BulkSubscription + "  bulkSubscribe:\n    enabled: true\n    maxMessagesCount: lots\n").Field);

    [Fact]
    public void Load_ScopedComponent_OnlyForListedApps()
    {
        File.WriteAllText(Path.Combine(_dir, "s.yaml"), Yaml.Component("statestore", "state.in-memory") + "scopes:\n  - billing\n");

        Assert.Single(ResourceLoader.Load([_dir], "billing").Components);
        Assert.Empty(ResourceLoader.Load([_dir], "orders").Components);
    }

    /// <summary>A local file secret store holding <paramref name="secrets"/>, and a Redis state store whose password comes from it.</summary>
    private string WithSecretRef(string secrets, string secretName)
    {
        File.WriteAllText(Path.Combine(_dir, "secrets.json"), secrets);
        File.WriteAllText(Path.Combine(_dir, "secretstore.yaml"), Yaml.Component("localsecrets", "secretstores.local.file", ("secretsFile", Path.Combine(_dir, "secrets.json"))));
        return Yaml.ComponentWithSecrets("statestore", "state.redis", "localsecrets", [("redisHost", "localhost:6379")], ("redisPassword", secretName, secretName));
    }

    [Fact]
    public void Load_SecretKeyRef_ResolvedFromLocalFileStore()
    {
        File.WriteAllText(Path.Combine(_dir, "state.yaml"), WithSecretRef("""{"redis": {"password": "s3cret"}}""", "redis:password"));

        var state = ResourceLoader.Load([_dir], "orders").Components.Single(c => c.Name == "statestore");

        Assert.Equal("s3cret", state.Metadata["redisPassword"]);
    }

    [Fact]
    public void Load_SecretKeyRefToMissingSecret_NamesIt()
    {
        var e = LoadFails(WithSecretRef("{}", "nope"));
        Assert.Equal("spec.metadata[redisPassword].secretKeyRef", e.Field);
    }

    [Fact]
    public async Task StartAsync_BadComponent_ThrowsAndListensNowhere()
    {
        File.WriteAllText(Path.Combine(_dir, "bad.yaml"), Yaml.Component("pubsub", "pubsub.kafka", ("brokers", "x:9092")));

        await Assert.ThrowsAsync<ResourceException>(() => SidecarHost.StartAsync(new SidecarOptions { AppId = "orders", ResourcesPaths = [_dir], RegistryFolder = Path.Combine(_dir, "reg") }));

        Assert.False(Directory.Exists(Path.Combine(_dir, "reg", "orders")) && Directory.EnumerateFiles(Path.Combine(_dir, "reg", "orders")).Any());
    }

    [Fact]
    public async Task StartAsync_RedisUnreachable_SaysHowToGetOne()
    {
        File.WriteAllText(Path.Combine(_dir, "state.yaml"), Yaml.Component("statestore", "state.redis", ("redisHost", $"127.0.0.1:{RedisServer.FreePort()}")));

        var e = await Assert.ThrowsAsync<ResourceException>(() => SidecarHost.StartAsync(new SidecarOptions { AppId = "orders", ResourcesPaths = [_dir], RegistryFolder = Path.Combine(_dir, "reg") }));

        Assert.Contains("apt-get install -y redis-server", e.Message, StringComparison.Ordinal);
    }
}
