using System.Text.RegularExpressions;
using Platform.Templates.Tests.Infrastructure;

namespace Platform.Templates.Tests;

/// <summary><c>dotnet new dapr-platform</c>: renamed throughout, the broker's components chosen, and it builds.</summary>
[Collection(TemplatesCollection.Name)]
public sealed partial class PlatformTemplateTests(TemplateHive hive)
{
    [Fact]
    public async Task NewPlatform_Named_NoFileStillSaysPlatformWhereTheNameBelongs()
    {
        var output = await hive.NewPlatformAsync("Contoso");

        var leftovers = Files(output)
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Line: i + 1, Text: line)))
            .Where(l => LeftoverName().IsMatch(SolutionSections().Replace(l.Text, "")))
            .Select(l => $"{Path.GetRelativePath(output, l.File)}:{l.Line}: {l.Text.Trim()}")
            .ToList();

        Assert.True(leftovers.Count == 0, "still named Platform:\n" + string.Join('\n', leftovers));
        Assert.True(File.Exists(Path.Combine(output, "Contoso.sln")));
        Assert.False(File.Exists(Path.Combine(output, "Platform.sln")));
        Assert.Contains("name: contoso", File.ReadAllText(Path.Combine(output, "tye.yaml")), StringComparison.Ordinal);
        Assert.StartsWith("# Contoso", File.ReadAllText(Path.Combine(output, "README.md")), StringComparison.Ordinal);
        Assert.Contains("namespace Contoso.Sidecar;", File.ReadAllText(Path.Combine(output, "dev", "Sidecar", "SidecarHost.cs")), StringComparison.Ordinal);
        // C# directives of the source are kept, not evaluated by the template engine.
        Assert.Contains("#if DEBUG", File.ReadAllText(Path.Combine(output, "bench", "Sidecar.Bench", "Program.cs")), StringComparison.Ordinal);
        // Nothing of the template itself, of its tests, of git or of a build comes along.
        Assert.False(Directory.Exists(Path.Combine(output, "templates")));
        Assert.False(Directory.Exists(Path.Combine(output, ".template.config")));
        Assert.False(Directory.Exists(Path.Combine(output, "tests", "Templates.Tests")));
        Assert.False(Path.Exists(Path.Combine(output, ".git")));
        Assert.DoesNotContain(Directory.EnumerateDirectories(output, "*", SearchOption.AllDirectories), d => Path.GetFileName(d) is "bin" or "obj" or "node_modules");
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("kafka")]
    [InlineData("pulsar")]
    public async Task NewPlatform_Broker_UsesItsComponentsFolderAndBuilds(string broker)
    {
        // Generated and built once per broker for this run (DevHostTemplateTests runs the same platform).
        var output = await hive.BuiltPlatformAsync("Contoso", "--broker", broker);

        Assert.Contains($"components-path: ./components/{broker}/", File.ReadAllText(Path.Combine(output, "tye.yaml")), StringComparison.Ordinal);
        Assert.Contains($"- ./components/{broker}", File.ReadAllText(Path.Combine(output, "dapr.yaml")), StringComparison.Ordinal);
        Assert.Contains($"type: pubsub.{broker}", File.ReadAllText(Path.Combine(output, "components", broker, "pubsub.yaml")), StringComparison.Ordinal);
        foreach (var folder in new[] { "local", "redis", "kafka", "pulsar" })
        {
            // Every folder comes along: switching later is one path in tye.yaml and dapr.yaml.
            Assert.True(File.Exists(Path.Combine(output, "components", folder, "statestore.yaml")), $"components/{folder} is missing");
        }

        // The README's first lines name the broker and the command for each way to run, right for this broker.
        var readme = File.ReadLines(Path.Combine(output, "README.md")).Take(12).ToList();
        var title = char.ToUpperInvariant(broker[0]) + broker[1..];
        Assert.Equal("# Contoso", readme[0]);
        Assert.StartsWith($"**Broker: {title}** (`--broker {broker}`)", readme[2], StringComparison.Ordinal);
        Assert.Contains(readme, l => l.StartsWith("| dev/Host: no Dapr, no Docker | `dotnet run --project dev/Host` | `components/local` (in-memory", StringComparison.Ordinal));
        Assert.Contains(readme, l => l.StartsWith($"| Tye and the Dapr CLI | `tye run` | `components/{broker}` ", StringComparison.Ordinal));
        Assert.Contains(readme, l => l.StartsWith($"| the Dapr CLI | `dapr run -f .` | `components/{broker}` ", StringComparison.Ordinal));
        Assert.Contains(readme, l => l.StartsWith($"| Kubernetes (Dapr, KEDA) | `kubectl apply -k deploy/k8s/overlays/{broker}` |", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(output, "deploy", "k8s", "overlays", broker, "kustomization.yaml")), $"the README names deploy/k8s/overlays/{broker}, which is not there");
        Assert.DoesNotContain(readme, l => new[] { "redis", "kafka", "pulsar" }.Except([broker]).Any(b => l.Contains($"components/{b}", StringComparison.Ordinal) || l.Contains($"overlays/{b}", StringComparison.Ordinal)));

        if (broker == "redis")
        {
            // The default variant also runs a representative part of its own suite (all of it takes ~6 minutes
            // here): tye.yaml and dapr.yaml agree and use valid keys, and every components folder loads.
            await Dotnet.RunAsync(output, TemplateHive.Slow, "test", Path.Combine("tests", "Host.Tests"), "--no-build", "-nologo",
                "--filter", "FullyQualifiedName~TopologyCheckTests|FullyQualifiedName~TyeKeysTests");
            await Dotnet.RunAsync(output, TemplateHive.Slow, "test", Path.Combine("tests", "Sidecar.Tests"), "--no-build", "-nologo",
                "--filter", "FullyQualifiedName~ComponentFoldersTests");
        }
    }

    private static IEnumerable<string> Files(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj" or "node_modules"));

    // The name in any casing. Prose ("the Contoso platform", "**The Contoso platform**", "whole Contoso platforms")
    // is allowed: the word, lower case, between words.
    [GeneratedRegex(@"Platform|PLATFORM|platform(?![ \u2019'.,:;)*]|s\b)")]
    private static partial Regex LeftoverName();

    // Visual Studio's own section names in a solution file.
    [GeneratedRegex(@"(SolutionConfigurationPlatforms|ProjectConfigurationPlatforms)")]
    private static partial Regex SolutionSections();
}
