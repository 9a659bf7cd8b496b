using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>Component metadata names are the ones Dapr's components define (which Dapr itself never checks).</summary>
public sealed class ComponentMetadataTests
{
    public static TheoryData<string> Brokers => [.. Kustomize.Overlays];

    public static TheoryData<string> LocalComponentFiles =>
        [.. Directory.GetFiles(Repo.Path("components"), "*.yaml", SearchOption.AllDirectories)
            .Where(f => Yaml.ParseAll(File.ReadAllText(f)).Any(o => o.Kind() == "Component"))
            .Select(f => Path.GetRelativePath(Repo.Root, f)).Order()];

    [Theory]
    [MemberData(nameof(Brokers))]
    public void Check_DeployedComponents_UseDefinedNamesWithRequiredOnesPresent(string broker)
    {
        var problems = Kustomize.Overlay(broker).OfKind("Component").SelectMany(ComponentMetadata.Kept.Check).ToList();

        Assert.Empty(problems);
    }

    [Theory]
    [MemberData(nameof(LocalComponentFiles))]
    public void Check_LocalComponent_UsesDefinedNamesWithRequiredOnesPresent(string file)
    {
        var components = Yaml.ParseAll(File.ReadAllText(Repo.Path(file))).OfKind("Component");

        Assert.Empty(components.SelectMany(ComponentMetadata.Kept.Check));
    }

    [Fact]
    public void Check_MisspeltName_IsNotDefined()
    {
        var pubsub = Kustomize.Overlay("kafka").Single("Component", "pubsub");
        pubsub["spec"]!["metadata"]![0]!["name"] = "brokres";

        var problems = ComponentMetadata.Kept.Check(pubsub);

        Assert.Contains("Component/pubsub: metadata 'brokres' is not defined by pubsub.kafka v1", problems);
        Assert.Contains("Component/pubsub: required metadata 'brokers' is missing", problems);
    }

    [Fact]
    public void Check_KafkaWithoutAuthType_SatisfiesNoAuthenticationProfile()
    {
        var pubsub = Kustomize.Overlay("kafka").Single("Component", "pubsub");
        var items = pubsub["spec"]!["metadata"]!.AsArray();
        items.Remove(items.Single(i => (string?)i!["name"] == "authType"));

        Assert.Contains(ComponentMetadata.Kept.Check(pubsub), p => p.Contains("no authentication profile of pubsub.kafka is satisfied", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_ValueOutsideAllowedValues_IsReported()
    {
        var pubsub = Kustomize.Overlay("kafka").Single("Component", "pubsub");
        pubsub["spec"]!["metadata"]!.AsArray().Single(i => (string?)i!["name"] == "initialOffset")!["value"] = "first";

        Assert.Contains(ComponentMetadata.Kept.Check(pubsub), p => p.Contains("'initialOffset' = 'first' is not one of", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_NameCaseAndTopicPatterns_AreAcceptedLikeDaprDoes()
    {
        var pubsub = Kustomize.Overlay("pulsar").Single("Component", "pubsub");
        var items = pubsub["spec"]!["metadata"]!.AsArray();
        items.Add(new JsonObject { ["name"] = "ledger.jsonschema", ["value"] = "{}" });
        items.Add(new JsonObject { ["name"] = "CONSUMERID", ["value"] = "{appID}" });

        Assert.Empty(ComponentMetadata.Kept.Check(pubsub));
    }

    [Fact]
    public void Check_UnknownComponentType_IsReported()
    {
        var store = Kustomize.Render("base").Single("Component", "statestore");
        store["spec"]!["type"] = "state.cassandra";

        Assert.Contains(ComponentMetadata.Kept.Check(store), p => p.Contains("no component metadata kept for state.cassandra v1", StringComparison.Ordinal));
    }
}
