using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Deploy.Tests;

/// <summary><c>kubectl kustomize</c> renders the base and every overlay, and an overlay only adds the broker's pieces.</summary>
public sealed class RenderTests(ITestOutputHelper output)
{
    public static TheoryData<string> Directories => ["base", "overlays/redis", "overlays/kafka", "overlays/pulsar"];

    public static TheoryData<string> Brokers => [.. Kustomize.Overlays];

    [Theory]
    [MemberData(nameof(Directories))]
    public void Render_Directory_EveryObjectInThePlatformNamespace(string dir)
    {
        var objects = Kustomize.Render(dir);

        output.WriteLine($"{dir}: {objects.Count} objects: " +
            string.Join(", ", objects.GroupBy(o => o.Kind()).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}")));
        Assert.NotEmpty(objects);
        Assert.All(objects.Where(o => o.Kind() != "Namespace"), o => Assert.Equal("platform", (string?)o["metadata"]?["namespace"]));
        Assert.Equal(objects.Count, objects.Select(o => $"{o.ApiVersion()}/{o.Id()}").Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public void Render_Overlay_IsTheBasePlusPubSubAndAutoscalers(string broker)
    {
        var baseObjects = Kustomize.Render("base");
        var overlay = Kustomize.Overlay(broker);

        bool BrokerPiece(JsonObject o) =>
            o.Id() is "Component/pubsub" or "Component/views-broadcast" || o.Kind() is "ScaledObject" or "TriggerAuthentication" or "HorizontalPodAutoscaler";
        var rest = overlay.Where(o => !BrokerPiece(o)).OrderBy(o => o.Id()).ToList();
        Assert.Equal(baseObjects.OrderBy(o => o.Id()).Select(o => o.ToJsonString()), rest.Select(o => o.ToJsonString()));

        Assert.Equal(Contract.PubSubTypes[broker], (string?)overlay.Single("Component", "pubsub")["spec"]?["type"]);
        Assert.Equal(["balances", "fraud"], overlay.OfKind("ScaledObject").Select(so => (string?)so["spec"]?["scaleTargetRef"]?["name"]).Order());
        Assert.Equal("solver", (string?)overlay.Single("HorizontalPodAutoscaler", "solver")["spec"]?["scaleTargetRef"]?["name"]);
    }

    [Fact]
    public void Render_Base_RunsTheFollowersAsAStatefulSetAndTheLeaderAlone()
    {
        var objects = Kustomize.Render("base");

        var followers = objects.Single("StatefulSet", "live");
        Assert.Equal(2, (int?)followers["spec"]?["replicas"]);
        Assert.Equal("None", (string?)objects.Single("Service", (string)followers["spec"]!["serviceName"]!)["spec"]?["clusterIP"]);
        var leader = objects.Single("Deployment", "live-leader");
        Assert.Equal(1, (int?)leader["spec"]?["replicas"]);
        Assert.Equal("Recreate", (string?)leader["spec"]?["strategy"]?["type"]);
        Assert.Equal(2, (int?)objects.Single("Deployment", "solver")["spec"]?["replicas"]);
        var backend = objects.Single("Ingress", "dashboard")["spec"]?["rules"]?[0]?["http"]?["paths"]?[0]?["backend"]?["service"];
        Assert.Equal("live", (string?)backend?["name"]);
    }
}
