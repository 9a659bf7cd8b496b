using Platform.Sidecar.Resources;
using YamlDotNet.RepresentationModel;

namespace Platform.Sidecar.Tests.Resources;

/// <summary>
/// The four folders under components/ are interchangeable: the same component names, scopes, Configuration and
/// Resiliency, so switching the broker is a change of folder and nothing else. Kafka and Pulsar files use only
/// metadata names Dapr's own metadata files define (kept here, since the project cannot read them at test time).
/// </summary>
public sealed class ComponentFoldersTests
{
    private static readonly string Root = Path.Combine(Repo.Root(), "components");

    // From components-contrib pubsub/kafka/metadata.yaml and pubsub/pulsar/metadata.yaml (names, * = required).
    private static readonly Dictionary<string, (string[] Required, string[] Allowed)> RuntimeOnly = new()
    {
        ["pubsub.kafka"] = (["brokers", "authType"],
        [
            "brokers", "consumerGroup", "clientID", "initialOffset", "maxMessageBytes", "consumeRetryInterval", "consumeRetryEnabled",
            "heartbeatInterval", "sessionTimeout", "version", "skipVerify", "disableTls", "channelBufferSize", "consumerFetchMin",
            "clientConnectionTopicMetadataRefreshInterval", "clientConnectionKeepAliveInterval", "dialTimeout", "readTimeout", "writeTimeout",
            "metadataTimeout", "producerRequiredAcks", "producerRetryMax", "consumerFetchDefault", "schemaRegistryURL", "schemaRegistryAPIKey",
            "schemaRegistryAPISecret", "schemaCachingEnabled", "schemaLatestVersionCacheTTL", "escapeHeaders", "useAvroJSON", "compression",
            "consumerGroupRebalanceStrategy", "excludeHeaderMetaRegex", "authType", "saslUsername", "saslPassword", "saslMechanism",
            "caCert", "clientCert", "clientKey", "oidcTokenEndpoint", "oidcClientID", "oidcClientSecret", "oidcScopes", "oidcExtensions",
        ]),
        ["pubsub.pulsar"] = (["host"],
        [
            "host", "listenerName", "consumerID", "namespace", "enableTLS", "tenant", "disableBatching", "batchingMaxPublishDelay",
            "batchingMaxMessages", "batchingMaxSize", "compressionType", "compressionLevel", "publicKey", "privateKey", "keys", "persistent",
            "redeliveryDelay", "processMode", "maxConcurrentHandlers", "receiverQueueSize", "subscribeType", "subscribeInitialPosition",
            "replicateSubscriptionState", "subscribeMode", "topicsPattern", "autoDiscoveryPeriod", "token", "oauth2TokenURL", "oauth2ClientID",
            "oauth2ClientSecret", "oauth2Scopes", "oauth2Audiences",
        ]),
    };

    // Read by daprd itself for every pub/sub component (dapr/dapr pkg/runtime/processor/pubsub, pkg/scopes).
    private static readonly string[] PubSubRuntime = ["consumerID", "allowedTopics", "protectedTopics", "publishingScopes", "subscriptionScopes"];

    private static readonly string[] Folders = ["local", "redis", "kafka", "pulsar"];

    [Fact]
    public void AllFolders_SameComponentNamesScopesAndPolicies()
    {
        var shapes = Folders.Select(f => (Folder: f, Shape: Shape(Path.Combine(Root, f)))).ToList();
        var reference = shapes[0].Shape;
        Assert.Contains("Component/pubsub", reference);
        Assert.Contains("Component/statestore", reference);
        Assert.Contains("Configuration/platform", reference);
        Assert.Contains("Resiliency/platform", reference);
        foreach (var (folder, shape) in shapes)
        {
            Assert.True(reference.SetEquals(shape), $"components/{folder} differs from components/local: {string.Join(", ", shape.Except(reference).Concat(reference.Except(shape)))}");
        }
    }

    [Fact]
    public void Shape_FolderWithAnotherName_Differs()
    {
        // The check above would catch a renamed component: show it on a copy.
        var dir = Directory.CreateTempSubdirectory("folders-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(Path.Combine(Root, "local")))
            {
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            }

            File.WriteAllText(Path.Combine(dir, "pubsub.yaml"), File.ReadAllText(Path.Combine(dir, "pubsub.yaml")).Replace("name: pubsub", "name: events", StringComparison.Ordinal));
            Assert.False(Shape(Path.Combine(Root, "local")).SetEquals(Shape(dir)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("local")]
    [InlineData("redis")]
    public void SidecarFolders_LoadInTheDevSidecar(string folder)
    {
        var loaded = ResourceLoader.Load([Path.Combine(Root, folder)], "ledger");
        Assert.Equal(["pubsub", "statestore"], loaded.Components.Select(c => c.Name).Order());
        Assert.NotNull(DaprConfiguration.Load(Path.Combine(Root, folder, "configuration.yaml")).Tracing);
    }

    [Theory]
    [InlineData("kafka")]
    [InlineData("pulsar")]
    public void RuntimeFolders_RefusedByTheDevSidecar_ValidForDapr(string folder)
    {
        var e = Assert.Throws<ResourceException>(() => ResourceLoader.Load([Path.Combine(Root, folder)], "ledger"));
        Assert.Contains("needs the Dapr runtime", e.Message, StringComparison.Ordinal);

        // Every pub/sub component of the folder (pubsub, and Live's views-broadcast) uses only Dapr's metadata names.
        var components = Documents(Path.Combine(Root, folder)).Where(d => Scalar(d, "kind") == "Component" && Scalar(d["spec"], "type")!.StartsWith("pubsub.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(components);
        foreach (var pubsub in components)
        {
            var type = Scalar(pubsub["spec"], "type")!;
            var names = ((YamlSequenceNode)((YamlMappingNode)pubsub["spec"])["metadata"]).Cast<YamlMappingNode>().Select(m => Scalar(m, "name")!).ToList();
            var (required, allowed) = RuntimeOnly[type];
            Assert.All(names, n => Assert.Contains(n, allowed.Concat(PubSubRuntime)));
            Assert.All(required, r => Assert.Contains(r, names));
        }
    }

    private static HashSet<string> Shape(string folder)
    {
        var shape = new HashSet<string>(StringComparer.Ordinal);
        foreach (var doc in Documents(folder))
        {
            var kind = Scalar(doc, "kind");
            var name = Scalar(doc["metadata"], "name");
            shape.Add($"{kind}/{name}");
            if (doc.Children.TryGetValue(new YamlScalarNode("scopes"), out var scopes) && scopes is YamlSequenceNode list)
            {
                shape.Add($"{kind}/{name}/scopes=" + string.Join(",", list.Cast<YamlScalarNode>().Select(s => s.Value).Order()));
            }

            if (kind == "Resiliency")
            {
                // The targets must match too: the same apps and components are governed whichever broker runs.
                var targets = (YamlMappingNode)((YamlMappingNode)doc["spec"])["targets"];
                foreach (var (group, entries) in targets.Children)
                {
                    foreach (var (target, _) in ((YamlMappingNode)entries).Children)
                    {
                        shape.Add($"Resiliency/{name}/{group}/{target}");
                    }
                }
            }
        }

        return shape;
    }

    private static IEnumerable<YamlMappingNode> Documents(string folder)
    {
        foreach (var file in Directory.GetFiles(folder, "*.yaml"))
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(file);
            stream.Load(reader);
            foreach (var d in stream.Documents)
            {
                yield return (YamlMappingNode)d.RootNode;
            }
        }
    }

    private static string? Scalar(YamlNode node, string key) =>
        ((YamlMappingNode)node).Children.TryGetValue(new YamlScalarNode(key), out var v) ? ((YamlScalarNode)v).Value : null;
}
