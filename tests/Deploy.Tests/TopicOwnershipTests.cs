using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>
/// Each topic is published only by its owner, in every components folder and every overlay; the check is shown to
/// catch each kind of slip on an in-memory copy (the files are never touched).
/// </summary>
public sealed class TopicOwnershipTests
{
    private static readonly Dictionary<string, (Action<Sources> Break, string Reported)> Mutations = new()
    {
        ["another app may publish ledger"] = (s => Append(Component(s.Overlays["redis"], "pubsub"), "publishingScopes", ";hello=ledger"),
            "overlays/redis: Component/pubsub lets [hello, ledger] publish topic 'ledger' (publishingScopes), its owner is ledger alone"),
        ["topic left unprotected"] = (s => Set(Component(s.Components["kafka"], "pubsub"), "protectedTopics", "ledger,routes,solver-load"),
            "components/kafka: Component/pubsub does not protect topic 'alerts' (protectedTopics): any app could publish it"),
        ["owner forgotten"] = (s => Set(Component(s.Components["local"], "pubsub"), "publishingScopes", "ledger=ledger;fraud=alerts;solver=solver-load"),
            "components/local: Component/pubsub lets [] publish topic 'routes' (publishingScopes), its owner is routing alone"),
        ["scoping missing from an overlay"] = (s => Component(s.Overlays["pulsar"], "views-broadcast")["spec"]!["metadata"] = new JsonArray(),
            "overlays/pulsar: Component/views-broadcast does not protect topic 'views' (protectedTopics): any app could publish it"),
        ["subscriber let in"] = (s => Append(Component(s.Components["redis"], "views-broadcast"), "subscriptionScopes", ";hello=views"),
            "components/redis: Component/views-broadcast lets [hello, live] subscribe topic 'views' (subscriptionScopes), its subscribers are [live]"),
        ["unknown topic protected"] = (s => Append(Component(s.Overlays["kafka"], "pubsub"), "protectedTopics", ",orders"),
            "overlays/kafka: Component/pubsub protects topic 'orders', which Contract.Topics does not list"),
    };

    public static TheoryData<string> MutationNames => [.. Mutations.Keys];

    [Fact]
    public void Check_Repository_EveryTopicOwnedInEveryFolderAndOverlay()
    {
        var sources = Sources.Load();

        Assert.Empty(TopicOwnership.Check(sources));
        // Every folder and overlay was looked at, each with both pub/sub components.
        Assert.Equal(4, sources.Components.Count);
        Assert.Equal(Kustomize.Overlays.Length, sources.Overlays.Count);
        Assert.All(sources.Components.Values.Concat(sources.Overlays.Values), objects =>
            Assert.Equal(["pubsub", "views-broadcast"], objects.OfKind("Component").Where(c => ((string?)c["spec"]!["type"])!.StartsWith("pubsub.", StringComparison.Ordinal)).Select(c => c.Name()).Order()));
    }

    [Theory]
    [MemberData(nameof(MutationNames))]
    public void Check_DeliberateSlip_IsReported(string mutation)
    {
        var sources = Sources.Load();
        var (breakIt, reported) = Mutations[mutation];

        breakIt(sources);

        Assert.Contains(reported, TopicOwnership.Check(sources));
    }

    [Fact]
    public void Check_NewTopicInTheContract_ReportedUntilEveryComponentGrantsIt()
    {
        var topics = new Dictionary<(string, string), (string, string[])>(Contract.Topics) { [("pubsub", "orders")] = ("orders", ["billing"]) };

        var problems = TopicOwnership.Check(Sources.Load(), topics).ToList();

        foreach (var where in new[] { "components/local", "components/redis", "components/kafka", "components/pulsar", "overlays/redis", "overlays/kafka", "overlays/pulsar" })
        {
            Assert.Contains($"{where}: Component/pubsub does not protect topic 'orders' (protectedTopics): any app could publish it", problems);
            Assert.Contains($"{where}: Component/pubsub lets [] publish topic 'orders' (publishingScopes), its owner is orders alone", problems);
        }
    }

    [Fact]
    public void TopicsInCode_EveryTopicAServiceNames_HasAnOwnerInTheContract()
    {
        var inCode = TopicOwnership.TopicsInCode(Repo.Path("services")).ToList();
        var known = Contract.Topics.Keys.Select(k => k.Topic).ToHashSet(StringComparer.Ordinal);

        Assert.All(inCode, t => Assert.True(known.Contains(t.Topic),
            $"{t.Source} names topic '{t.Topic}': add it to Contract.Topics with its owner and subscribers, and to protectedTopics/publishingScopes/subscriptionScopes of every pub/sub component (components/*, deploy/k8s/overlays/*)"));
        // The scan sees every topic of the contract (if it missed one, a new topic could slip past it too).
        Assert.Equal(known.Order(StringComparer.Ordinal), inCode.Select(t => t.Topic).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TopicsInCode_NewServiceWithItsOwnTopic_IsFound()
    {
        var dir = Directory.CreateTempSubdirectory("topics-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "OrdersNames.cs"), "public static class OrdersNames\n{\n    public const string Topic = \"orders\";\n}\n");
            File.WriteAllText(Path.Combine(dir.FullName, "names.ts"), "export const Topics = {\n  /** in */ payments: \"payments\",\n} as const;\n");

            var found = TopicOwnership.TopicsInCode(dir.FullName).Select(t => t.Topic).Order(StringComparer.Ordinal);

            Assert.Equal(["orders", "payments"], found);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static JsonObject Component(List<JsonObject> objects, string name) => objects.Single("Component", name);

    private static JsonObject Item(JsonObject component, string name) =>
        component.ComponentMetadata().Single(m => (string?)m["name"] == name);

    private static void Set(JsonObject component, string name, string value) => Item(component, name)["value"] = value;

    private static void Append(JsonObject component, string name, string suffix) => Item(component, name)["value"] = (string?)Item(component, name)["value"] + suffix;
}
