using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>Every rendered object against the strict Kubernetes schemas and the Dapr/KEDA CRDs kept in schemas/.</summary>
public sealed class SchemaTests
{
    public static TheoryData<string> Directories => ["base", "overlays/redis", "overlays/kafka", "overlays/pulsar"];

    [Theory]
    [MemberData(nameof(Directories))]
    public void Check_EveryRenderedObject_MatchesItsSchema(string dir)
    {
        var problems = Kustomize.Render(dir).SelectMany(Schemas.Check).ToList();

        Assert.Empty(problems);
    }

    [Fact]
    public void KeptSchemas_AreOnlyForRenderedKinds()
    {
        var rendered = Kustomize.Overlays.SelectMany(Kustomize.Overlay).Select(o => (o.ApiVersion(), o.Kind())).ToHashSet();
        var keptFiles = Directory.GetFiles(Repo.Schemas("kubernetes")).Concat(Directory.GetFiles(Repo.Schemas("crds"))).Count();

        Assert.Subset(rendered, Schemas.Kinds.ToHashSet());
        Assert.Equal(Schemas.Kinds.Count, keptFiles);
    }

    [Fact]
    public void Check_MisspeltContainerField_IsAnUnknownField()
    {
        var deployment = Kustomize.Render("base").Single("Deployment", "ledger");
        deployment.AppContainer()["imagePullPolcy"] = "Always";

        Assert.Contains(Schemas.Check(deployment), p => p.Contains("imagePullPolcy: unknown field", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_QuotedReplicas_IsTheWrongType()
    {
        var deployment = Kustomize.Render("base").Single("Deployment", "solver");
        deployment["spec"]!["replicas"] = "2";

        Assert.Contains(Schemas.Check(deployment), p => p.Contains("$.spec.replicas: expected integer", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_ComponentWithoutSpecMetadata_IsRefusedLikeTheCrdWould()
    {
        var component = Kustomize.Render("base").Single("Component", "statestore");
        component["spec"]!.AsObject().Remove("metadata");

        Assert.Contains(Schemas.Check(component), p => p.Contains("required property 'metadata' is missing", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_UnknownFieldInADaprConfiguration_IsAnUnknownField()
    {
        var config = Kustomize.Render("base").Single("Configuration", "platform");
        config["spec"]!["tracing"]!["otel"]!["endpoint"] = "collector:4317";

        Assert.Contains(Schemas.Check(config), p => p.Contains("$.spec.tracing.otel.endpoint: unknown field", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_UnquotedKedaTriggerValue_IsNotAString()
    {
        var scaler = Kustomize.Overlay("redis").Single("ScaledObject", "balances");
        scaler["spec"]!["triggers"]![0]!["metadata"]!["lagCount"] = 50;

        Assert.Contains(Schemas.Check(scaler), p => p.Contains("lagCount: expected string", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_KindWithoutAKeptSchema_IsReported()
    {
        var configMap = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = new JsonObject { ["name"] = "x" } };

        Assert.Contains(Schemas.Check(configMap), p => p.Contains("no schema kept", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_IntOrStringAndOneOf_AcceptBothAndRejectOthers()
    {
        var checker = new SchemaChecker(new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["port"] = new JsonObject { ["x-kubernetes-int-or-string"] = true },
                ["either"] = new JsonObject { ["oneOf"] = new JsonArray(new JsonObject { ["type"] = "string" }, new JsonObject { ["type"] = "integer" }) },
            },
        }, closedByDefault: true);

        Assert.Empty(checker.Check(JsonNode.Parse("""{"port": "http", "either": 3}""")));
        Assert.Empty(checker.Check(JsonNode.Parse("""{"port": 8080, "either": "x"}""")));
        Assert.Equal(3, checker.Check(JsonNode.Parse("""{"port": true, "either": 1.5, "other": 1}""")).Count);
    }
}
