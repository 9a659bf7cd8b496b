using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// Each topic is published only by its owner: every pub/sub component, in every components folder and overlay,
/// lists its topics in <c>protectedTopics</c> and grants each, in <c>publishingScopes</c> and
/// <c>subscriptionScopes</c>, to exactly the apps <see cref="Contract.Topics"/> names. Scopes are read as daprd reads
/// them (dapr/dapr pkg/scopes: spaces dropped, an app's entries add up).
/// </summary>
public static partial class TopicOwnership
{
    public static IEnumerable<string> Check(Sources sources) => Check(sources, Contract.Topics);

    public static IEnumerable<string> Check(Sources sources, IReadOnlyDictionary<(string Component, string Topic), (string Owner, string[] Subscribers)> topics)
    {
        var sets = sources.Components.Select(c => ($"components/{c.Key}", c.Value))
            .Concat(sources.Overlays.Select(o => ($"overlays/{o.Key}", o.Value)));
        foreach (var (where, objects) in sets)
        {
            foreach (var component in objects.OfKind("Component").Where(c => ((string?)c["spec"]?["type"] ?? "").StartsWith("pubsub.", StringComparison.Ordinal)))
            {
                foreach (var problem in CheckComponent(component, topics))
                {
                    yield return $"{where}: Component/{component.Name()} {problem}";
                }
            }
        }
    }

    private static IEnumerable<string> CheckComponent(JsonObject component, IReadOnlyDictionary<(string Component, string Topic), (string Owner, string[] Subscribers)> topics)
    {
        var mine = topics.Where(t => t.Key.Component == component.Name()).ToDictionary(t => t.Key.Topic, t => t.Value, StringComparer.Ordinal);
        if (mine.Count == 0)
        {
            yield return "carries no topic of Contract.Topics: list its topics there with their owners";
            yield break;
        }

        var protectedTopics = List(component.MetadataValue("protectedTopics"));
        var publishing = Scopes(component.MetadataValue("publishingScopes"));
        var subscribing = Scopes(component.MetadataValue("subscriptionScopes"));
        foreach (var (topic, (owner, subscribers)) in mine.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (!protectedTopics.Contains(topic))
            {
                yield return $"does not protect topic '{topic}' (protectedTopics): any app could publish it";
            }

            var publishers = Granted(publishing, topic);
            if (!publishers.SequenceEqual([owner]))
            {
                yield return $"lets [{string.Join(", ", publishers)}] publish topic '{topic}' (publishingScopes), its owner is {owner} alone";
            }

            var readers = Granted(subscribing, topic);
            if (!readers.SequenceEqual(subscribers.Order(StringComparer.Ordinal)))
            {
                yield return $"lets [{string.Join(", ", readers)}] subscribe topic '{topic}' (subscriptionScopes), its subscribers are [{string.Join(", ", subscribers.Order(StringComparer.Ordinal))}]";
            }
        }

        foreach (var extra in protectedTopics.Where(t => !mine.ContainsKey(t)).Order(StringComparer.Ordinal))
        {
            yield return $"protects topic '{extra}', which Contract.Topics does not list";
        }
    }

    private static string[] Granted(Dictionary<string, HashSet<string>> scopes, string topic) =>
        [.. scopes.Where(s => s.Value.Contains(topic)).Select(s => s.Key).Order(StringComparer.Ordinal)];

    private static HashSet<string> List(string? value) =>
        value is null ? [] : [.. value.Replace(" ", "", StringComparison.Ordinal).Split(',', StringSplitOptions.RemoveEmptyEntries)];

    private static Dictionary<string, HashSet<string>> Scopes(string? value)
    {
        var scopes = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var entry in (value ?? "").Replace(" ", "", StringComparison.Ordinal).Split(';'))
        {
            var parts = entry.Split('=');
            if (parts.Length >= 2)
            {
                if (!scopes.TryGetValue(parts[0], out var set))
                {
                    scopes[parts[0]] = set = [];
                }

                set.UnionWith(parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return scopes;
    }

    /// <summary>
    /// The topics the services name in their code, where the project's style puts them: a C# constant whose name
    /// contains <c>Topic</c> (<c>LedgerNames.Topic</c>, <c>Components.AlertsTopic</c>) or fraud's <c>Topics</c> object.
    /// </summary>
    public static IEnumerable<(string Topic, string Source)> TopicsInCode(string servicesFolder)
    {
        foreach (var file in Directory.EnumerateFiles(servicesFolder, "*.*", SearchOption.AllDirectories).Where(f => !Generated(f)).Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            var source = Path.GetRelativePath(Repo.Root, file);
            if (file.EndsWith(".cs", StringComparison.Ordinal))
            {
                foreach (Match m in CSharpTopic().Matches(text))
                {
                    yield return (m.Groups[1].Value, source);
                }
            }
            else if (file.EndsWith(".ts", StringComparison.Ordinal) && TsTopics().Match(text) is { Success: true } block)
            {
                foreach (Match m in TsEntry().Matches(block.Groups[1].Value))
                {
                    yield return (m.Groups[1].Value, source);
                }
            }
        }
    }

    private static bool Generated(string path) =>
        path.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj" or "node_modules" or "dist");

    [GeneratedRegex("""const\s+string\s+\w*Topic\w*\s*=\s*"([^"]+)"\s*;""")]
    private static partial Regex CSharpTopic();

    [GeneratedRegex("""export\s+const\s+Topics\s*=\s*\{([^}]*)\}""")]
    private static partial Regex TsTopics();

    [GeneratedRegex("""\w+\s*:\s*"([^"]+)"\s*,?""")]
    private static partial Regex TsEntry();
}
