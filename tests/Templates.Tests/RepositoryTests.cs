using System.Text.Json;
using System.Text.RegularExpressions;
using Platform.Templates.Tests.Infrastructure;

namespace Platform.Templates.Tests;

/// <summary>Checks on the template's source that need no generation: fast, and they name the file and line.</summary>
public sealed partial class RepositoryTests
{
    /// <summary>
    /// The template replaces the text <c>Platform</c> (and <c>platform</c>, <c>PLATFORM</c>) wherever it occurs. Our
    /// own names that contain it are renamed consistently (a test called <c>...InThePlatformNamespace</c> still
    /// compiles), but names that belong to .NET, MSBuild or Node would break in every generated platform:
    /// <c>OSPlatform</c> would become <c>OSContoso</c>, <c>process.platform</c> <c>process.contoso</c>.
    /// </summary>
    [Fact]
    public void Sources_HaveNoWordThatOnlyContainsTheName()
    {
        var offenders = TemplateSources()
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Line: i + 1, Text: line)))
            .Where(l => EmbeddedName().IsMatch(l.Text))
            .Select(l => $"{Path.GetRelativePath(Repo.Root, l.File)}:{l.Line}: {l.Text.Trim()}")
            .ToList();

        Assert.True(offenders.Count == 0, "words the rename would break (write them another way):\n" + string.Join('\n', offenders));
    }

    [Theory]
    [InlineData(".template.config/template.json", "dapr-platform", "Platform")]
    [InlineData("templates/dapr-service/.template.config/template.json", "dapr-service", "Orders")]
    public void TemplateJson_HasWhatTheSchemaRequires(string path, string shortName, string sourceName)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, path)));
        var root = json.RootElement;

        foreach (var required in new[] { "author", "classifications", "identity", "name", "shortName", "tags", "sourceName", "primaryOutputs", "postActions" })
        {
            Assert.True(root.TryGetProperty(required, out _), $"{path} has no {required}");
        }

        Assert.Equal(shortName, root.GetProperty("shortName").GetString());
        Assert.Equal(sourceName, root.GetProperty("sourceName").GetString());
        Assert.Equal("C#", root.GetProperty("tags").GetProperty("language").GetString());
        Assert.Contains(root.GetProperty("tags").GetProperty("type").GetString(), new[] { "project", "item", "solution" });
        // The restore post action (its well-known id in the template engine's registry).
        Assert.Contains(root.GetProperty("postActions").EnumerateArray(), a => a.GetProperty("actionId").GetString() == "210D431B-A78B-4D2F-B762-4ED3E3EA9025");
        foreach (var output in root.GetProperty("primaryOutputs").EnumerateArray())
        {
            var file = output.GetProperty("path").GetString()!;
            var source = path.StartsWith("templates/", StringComparison.Ordinal) ? Path.Combine(Repo.Root, "templates", "dapr-service", file) : Path.Combine(Repo.Root, file);
            Assert.True(File.Exists(source), $"primary output {file} is not in the template");
        }
    }

    [Fact]
    public void SkeletonSolution_ListsEveryProjectTheSkeletonKeeps()
    {
        // With --samples false the solution comes from templates/dapr-platform/skeleton: it must list every project
        // the skeleton keeps (all but the samples, by the exclusions in template.json), and nothing else.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, ".template.config", "template.json")));
        var samples = json.RootElement.GetProperty("sources")[0].GetProperty("modifiers").EnumerateArray()
            .Single(m => m.GetProperty("condition").GetString() == "(!samples)")
            .GetProperty("exclude").EnumerateArray()
            .Select(g => new Regex("^" + Regex.Escape(g.GetString()!).Replace(@"\*\*", ".*", StringComparison.Ordinal).Replace(@"\*", "[^/]*", StringComparison.Ordinal) + "$"))
            .ToList();
        var kept = TemplateSources()
            .Where(f => f.EndsWith(".csproj", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/'))
            .Where(f => !samples.Any(g => g.IsMatch(f)))
            .Select(f => f.Replace('/', '\\'))
            .Order()
            .ToList();
        var listed = ProjectLine().Matches(File.ReadAllText(Path.Combine(Repo.Root, "templates", "dapr-platform", "skeleton", "Platform.sln")))
            .Select(m => m.Groups[1].Value)
            .Order()
            .ToList();

        Assert.Equal(kept, listed);
    }

    [Fact]
    public void PlatformSolution_TemplatesTestsEntry_IsTheOneTheTemplateRemoves()
    {
        // The generated solution must not list this project (it is not generated): template.json removes its
        // lines from the solution by their exact text, GUID included.
        var entry = TemplatesTestsLine().Match(File.ReadAllText(Path.Combine(Repo.Root, "Platform.sln")));
        Assert.True(entry.Success, "Platform.sln does not list tests/Templates.Tests");
        var removals = File.ReadAllText(Path.Combine(Repo.Root, ".template.config", "template.json"));
        Assert.Contains(entry.Groups[1].Value, removals, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("templates/dapr-platform/skeleton/README.md")]
    public void Readme_FirstLines_AreWhatTheTemplateReplacesForEachBroker(string path)
    {
        // template.json replaces the README's first lines (the repository's own: in-memory components for every
        // local way to run) by the chosen broker's, by their exact text: both READMEs must still have it.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, ".template.config", "template.json")));
        var replacements = json.RootElement.GetProperty("SpecialCustomOperations").GetProperty("README.md").GetProperty("operations").EnumerateArray()
            .Where(o => o.GetProperty("type").GetString() == "replacement" && o.TryGetProperty("condition", out var c) && c.GetString()!.StartsWith("(broker ==", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(["(broker == \"redis\")", "(broker == \"kafka\")", "(broker == \"pulsar\")"], replacements.Select(o => o.GetProperty("condition").GetString()));
        var readme = File.ReadAllText(Path.Combine(Repo.Root, path));
        foreach (var original in replacements.Select(o => o.GetProperty("configuration").GetProperty("original").GetString()!))
        {
            Assert.StartsWith("# Platform\n\n" + original, readme, StringComparison.Ordinal);
        }
    }

    // What the dapr-platform template copies (see its sources): the repository minus the template and build output.
    private static IEnumerable<string> TemplateSources() =>
        Directory.EnumerateFiles(Repo.Root, "*", SearchOption.AllDirectories)
            .Where(f =>
            {
                var parts = Path.GetRelativePath(Repo.Root, f).Split(Path.DirectorySeparatorChar);
                return !parts.Any(p => p is "bin" or "obj" or "node_modules" or ".git" or "TestResults" or "artifacts")
                    && parts[0] is not ("templates" or ".template.config" or ".git")
                    && !(parts[0] == "tests" && parts[1] == "Templates.Tests")
                    && !f.EndsWith(".sln", StringComparison.Ordinal);
            });

    [GeneratedRegex(@"OSPlatform|PlatformNotSupported|PlatformTarget|TargetPlatform|TestPlatform|PlatformID|\$\(Platform\)|<Platforms?>|\b(process|os|navigator|runtime)\.platform\b|platform\(\)")]
    private static partial Regex EmbeddedName();

    [GeneratedRegex(@"""Templates\.Tests"", ""tests\\Templates\.Tests\\Templates\.Tests\.csproj"", ""(\{[0-9A-F-]+\})""")]
    private static partial Regex TemplatesTestsLine();

    [GeneratedRegex(@"^Project\(""\{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC\}""\) = ""[^""]+"", ""([^""]+)""", RegexOptions.Multiline)]
    private static partial Regex ProjectLine();
}
