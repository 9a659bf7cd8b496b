using Platform.Host.Tests.Infrastructure;
using Platform.Host.Topology;

namespace Platform.Host.Tests;

/// <summary>tye.yaml may hold only keys Tye's parser accepts (its parser, which is stricter than its schema).</summary>
public sealed class TyeKeysTests
{
    [Fact]
    public void Check_RepositoryTyeYaml_UsesOnlyKeysTyesParserAccepts()
    {
        var path = Path.Combine(Repo.Root, "tye.yaml");

        var problems = TyeKeys.Check(File.ReadAllText(path), "tye.yaml");

        Assert.Empty(problems);
    }

    [Theory]
    // In Tye's JSON schema, but its parser throws "Unrecognized key".
    [InlineData("    bindings:\n      - protocol: http\n        autoAssignPort: true\n", "autoAssignPort", 5, "services[0].bindings[0]")]
    [InlineData("    replica: 2\n", "replica", 3, "services[0]")]
    [InlineData("    env:\n      - name: A\n        val: b\n", "val", 5, "services[0].env[0]")]
    [InlineData("    readiness:\n      http:\n        route: /health\n", "route", 5, "services[0].readiness.http")]
    public void Check_ServiceKeyTyesParserRejects_IsReportedWithItsLine(string serviceYaml, string key, int line, string where)
    {
        var yaml = "services:\n  - name: a\n" + serviceYaml;

        var problem = Assert.Single(TyeKeys.Check(yaml, "tye.yaml"));

        Assert.Equal(line, problem.Line);
        Assert.StartsWith($"unrecognized key '{key}' in '{where}'", problem.Message, StringComparison.Ordinal);
        Assert.Contains("Tye's parser accepts:", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_TopLevelTypo_IsReported()
    {
        var problem = Assert.Single(TyeKeys.Check("name: x\nservice:\n  - name: a\n", "tye.yaml"));

        Assert.Equal(2, problem.Line);
        Assert.StartsWith("unrecognized key 'service' in the top level", problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("  - name: dapr\n    components_path: ./components\n", "components_path")]
    [InlineData("  - name: dapr\n    services:\n      a:\n        appid: x\n", "appid")]
    [InlineData("  - name: dapr\n    services:\n      a:\n        App-Id: x\n", "App-Id")]
    public void Check_DaprExtensionKeyTyeWouldSilentlyIgnore_IsReported(string extensionYaml, string key)
    {
        var problem = Assert.Single(TyeKeys.Check("extensions:\n" + extensionYaml + "services:\n  - name: a\n    project: a.csproj\n", "tye.yaml"));

        Assert.StartsWith($"unrecognized key '{key}'", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_WrongCaseKey_SuggestsTheRightOne()
    {
        var problem = Assert.Single(TyeKeys.Check("services:\n  - name: a\n    workingdirectory: x\n", "tye.yaml"));

        Assert.Contains("did you mean 'workingDirectory'?", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_UnknownExtension_IsReported()
    {
        var problem = Assert.Single(TyeKeys.Check("extensions:\n  - name: otel\nservices:\n  - name: a\n", "tye.yaml"));

        Assert.Contains("has no extension 'otel'", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_KeysTheParserAcceptsButTheSchemaLacks_AreAccepted()
    {
        const string yaml = """
            services:
              - name: a
                project: a.csproj
                env_file:
                  - .env
                configuration:
                  - A=b
                tags: [backend]
                liveness:
                  http:
                    path: /alive
                  period: 5
                bindings:
                  - protocol: http
                    routes: [/api]
            """;

        Assert.Empty(TyeKeys.Check(yaml, "tye.yaml"));
    }

    [Fact]
    public void Check_ListWhereTyeExpectsAValue_IsReported()
    {
        var problem = Assert.Single(TyeKeys.Check("services:\n  - name: a\n    args:\n      - --x\n", "tye.yaml"));

        Assert.Equal("'services[0].args' must be a single value, not a list", problem.Message);
    }
}
