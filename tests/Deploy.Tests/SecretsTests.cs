using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>No secret value in any manifest; every secret by reference.</summary>
public sealed class SecretsTests
{
    public static TheoryData<string> Brokers => [.. Kustomize.Overlays];

    [Theory]
    [MemberData(nameof(Brokers))]
    public void Check_Overlay_HoldsNoSecretValue(string broker)
    {
        Assert.Empty(SecretsCheck.Check(Kustomize.Overlay(broker), ComponentMetadata.Kept));
    }

    [Fact]
    public void Check_Overlays_ReferenceTheRedisPasswordAndTheApiToken()
    {
        var redis = Kustomize.Overlay("redis");

        foreach (var component in new[] { "pubsub", "statestore" })
        {
            var password = redis.Single("Component", component).ComponentMetadata().Single(m => (string?)m["name"] == "redisPassword");
            Assert.False(password.ContainsKey("value"));
            Assert.Equal("redis", (string?)password["secretKeyRef"]?["name"]);
            Assert.Equal("redis-password", (string?)password["secretKeyRef"]?["key"]);
        }

        Assert.All(redis.Where(o => o.IsWorkload()), w => Assert.Equal("dapr-api-token", w.Annotation("dapr.io/api-token-secret")));
        Assert.Equal("redis-password", (string?)redis.Single("TriggerAuthentication", "redis")["spec"]?["secretTargetRef"]?[0]?["key"]);
    }

    [Fact]
    public void Check_LiteralPassword_IsReported()
    {
        var objects = Kustomize.Overlay("redis");
        objects.Single("Component", "statestore")["spec"]!["metadata"]!.AsArray()
            .Single(m => (string?)m!["name"] == "redisPassword")!.ReplaceWith(new JsonObject { ["name"] = "redisPassword", ["value"] = "hunter2" });

        Assert.Contains("Component/statestore: 'redisPassword' is given as a value; use secretKeyRef", SecretsCheck.Check(objects, ComponentMetadata.Kept));
    }

    [Fact]
    public void Check_SensitiveNameWithoutASecretishName_IsReportedFromTheMetadata()
    {
        var objects = Kustomize.Overlay("pulsar");
        objects.Single("Component", "pubsub")["spec"]!["metadata"]!.AsArray().Add(new JsonObject { ["name"] = "oauth2ClientSecret", ["value"] = "s3cret" });
        objects.Single("Component", "pubsub")["spec"]!["metadata"]![0]!["value"] = "pulsar://user:pw@broker:6650";

        var problems = SecretsCheck.Check(objects, ComponentMetadata.Kept);

        Assert.Contains("Component/pubsub: 'oauth2ClientSecret' is given as a value; use secretKeyRef", problems);
        Assert.Contains("Component/pubsub: 'host' is given as a value; use secretKeyRef", problems);
    }

    [Fact]
    public void Check_SecretObjectsAndLiteralEnv_AreReported()
    {
        var objects = Kustomize.Overlay("kafka").ToList();
        objects.Add(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = "dapr-api-token" },
            ["stringData"] = new JsonObject { ["token"] = "abc" },
        });
        objects.Single("Deployment", "routing").AppContainer()["env"]!.AsArray().Add(new JsonObject { ["name"] = "DB_PASSWORD", ["value"] = "x" });

        var problems = SecretsCheck.Check(objects, ComponentMetadata.Kept);

        Assert.Contains("Secret/dapr-api-token: carries data; create secrets out of band and reference them", problems);
        Assert.Contains("Deployment/routing: env DB_PASSWORD is given as a value; use valueFrom.secretKeyRef", problems);
    }

    [Fact]
    public void Check_ApiTokenFromAnotherKeyOrMissing_IsReported()
    {
        var objects = Kustomize.Overlay("redis");
        var token = objects.Single("Deployment", "ledger").AppContainer()["env"]!.AsArray()
            .Single(e => (string?)e!["name"] == "DAPR_API_TOKEN")!["valueFrom"]!["secretKeyRef"]!;
        token["key"] = "api-token";
        objects.Single("Deployment", "hello").PodAnnotations().Remove("dapr.io/api-token-secret");

        var problems = SecretsCheck.Check(objects, ComponentMetadata.Kept);

        Assert.Contains("Deployment/ledger: DAPR_API_TOKEN must come from Secret 'dapr-api-token' key 'token', as daprd's does", problems);
        Assert.Contains(problems, p => p.StartsWith("Deployment/hello: no dapr.io/api-token-secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_CredentialInKedaTrigger_IsReported()
    {
        var objects = Kustomize.Overlay("redis");
        objects.Single("ScaledObject", "fraud")["spec"]!["triggers"]![0]!["metadata"]!["password"] = "x";

        Assert.Contains("ScaledObject/fraud: trigger metadata 'password' holds a credential; use a TriggerAuthentication", SecretsCheck.Check(objects, ComponentMetadata.Kept));
    }
}
