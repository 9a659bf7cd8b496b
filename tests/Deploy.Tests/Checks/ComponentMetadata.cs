using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// Checks a Dapr Component's <c>spec.metadata</c> against the component's own metadata.yaml (dapr/components-contrib,
/// kept in schemas/component-metadata). Dapr itself ignores a misspelt name silently, so this is the only guard:
/// every name must be one the component (or one of its authentication profiles, or the runtime) defines; required
/// names must be present; where an authentication profile has required fields, one profile must be satisfied;
/// values with allowedValues must be allowed. Names compare case-insensitively, as Dapr's decoder does.
/// </summary>
public sealed class ComponentMetadata
{
    // Read by the runtime rather than the component (dapr/dapr pkg/runtime: processor/pubsub, scopes, encryption, outbox,
    // processor/state). actorStateStore is accepted on every state store: the runtime checks the store's capabilities
    // itself, and in-memory supports actors (docs.dapr.io/reference/components-reference/supported-state-stores/setup-inmemory)
    // though its metadata.yaml lists no capabilities.
    private static readonly string[] PubSubRuntime = ["consumerID", "allowedTopics", "publishingScopes", "subscriptionScopes", "protectedTopics"];
    private static readonly string[] StateRuntime =
    [
        "keyPrefix", "primaryEncryptionKey", "secondaryEncryptionKey",
        "outboxPublishPubsub", "outboxPublishTopic", "outboxPubsub", "outboxDiscardWhenMissingState", "actorStateStore",
    ];

    // Accepted by the component's code though not listed in its metadata.yaml (components-contrib kafka metadata.go).
    private static readonly Dictionary<string, string[]> ExtraAllowedValues = new(StringComparer.OrdinalIgnoreCase) { ["authType"] = ["certificate"] };

    private readonly Dictionary<string, Spec> _specs;

    private ComponentMetadata(Dictionary<string, Spec> specs) => _specs = specs;

    public static ComponentMetadata Kept { get; } = Load(Repo.Schemas("component-metadata"));

    public static ComponentMetadata Load(string dir)
    {
        var builtin = Yaml.ParseFile(Path.Combine(dir, "_builtin-authentication-profiles.yaml"));
        var specs = new Dictionary<string, Spec>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in Directory.GetFiles(dir, "*.metadata.yaml"))
        {
            var m = Yaml.ParseFile(file);
            var key = $"{m["type"]}.{m["name"]}/{m["version"]}";
            var profiles = m["authenticationProfiles"].Objects().Select(p => p["metadata"].Objects().ToList()).ToList();
            foreach (var own in m["builtinAuthenticationProfiles"].Objects())
            {
                var shared = builtin[(string)own["name"]!].Objects().Select(p => p["metadata"].Objects().ToList());
                profiles.AddRange(shared.Select(fields => own["metadata"].Objects().Concat(fields).ToList()));
            }

            var runtime = (string?)m["type"] switch
            {
                "pubsub" => PubSubRuntime,
                "state" => StateRuntime,
                _ => [],
            };
            specs[key] = new Spec(m["metadata"].Objects().ToList(), profiles, runtime);
        }

        return new ComponentMetadata(specs);
    }

    /// <summary>The names a component of this type and version declares sensitive (secrets: by reference only).</summary>
    public IReadOnlySet<string> Sensitive(string type, string version) =>
        _specs.TryGetValue($"{type}/{version}", out var spec)
            ? spec.All.Where(f => f["sensitive"]?.GetValue<bool>() is true).Select(f => (string)f["name"]!).ToHashSet(StringComparer.OrdinalIgnoreCase)
            : new HashSet<string>();

    /// <summary>Every problem with one Component object; empty when it is right.</summary>
    public IReadOnlyList<string> Check(JsonObject component)
    {
        var id = component.Id();
        var type = (string?)component["spec"]?["type"];
        var version = (string?)component["spec"]?["version"];
        if (!_specs.TryGetValue($"{type}/{version}", out var spec))
        {
            return [$"{id}: no component metadata kept for {type} {version}"];
        }

        var problems = new List<string>();
        var items = component.ComponentMetadata().ToList();
        var present = new Dictionary<string, JsonObject>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in items)
        {
            var name = (string?)item["name"] ?? "";
            if (!present.TryAdd(name, item))
            {
                problems.Add($"{id}: metadata '{name}' appears twice");
            }

            var sources = new[] { "value", "secretKeyRef", "envRef" }.Count(item.ContainsKey);
            if (sources != 1)
            {
                problems.Add($"{id}: metadata '{name}' needs exactly one of value, secretKeyRef, envRef");
            }

            if (!spec.Defines(name))
            {
                problems.Add($"{id}: metadata '{name}' is not defined by {type} {version}");
            }
        }

        foreach (var field in spec.Fields.Where(f => f["required"]?.GetValue<bool>() is true && !present.ContainsKey((string)f["name"]!)))
        {
            problems.Add($"{id}: required metadata '{field["name"]}' is missing");
        }

        if (spec.Profiles.Count > 0 && !spec.Profiles.Any(p => Satisfies(p, present)))
        {
            var needed = spec.Profiles.SelectMany(p => p).Where(f => f["required"]?.GetValue<bool>() is true).Select(f => (string)f["name"]!).Distinct();
            problems.Add($"{id}: no authentication profile of {type} is satisfied (each needs some of: {string.Join(", ", needed)})");
        }

        foreach (var (name, item) in present)
        {
            var allowed = spec.All.Where(f => string.Equals((string?)f["name"], name, StringComparison.OrdinalIgnoreCase))
                .SelectMany(f => f["allowedValues"].Strings()).ToList();
            if (allowed.Count > 0 && ExtraAllowedValues.TryGetValue(name, out var extra))
            {
                allowed.AddRange(extra);
            }

            if (allowed.Count > 0 && item["value"] is JsonValue v && !allowed.Contains(v.ToString(), StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{id}: metadata '{name}' = '{v}' is not one of {string.Join(", ", allowed)}");
            }
        }

        return problems;
    }

    private static bool Satisfies(List<JsonObject> profile, Dictionary<string, JsonObject> present) =>
        profile.All(f =>
        {
            var name = (string)f["name"]!;
            if (!present.TryGetValue(name, out var item))
            {
                return f["required"]?.GetValue<bool>() is not true;
            }

            var allowed = f["allowedValues"].Strings().ToList();
            return allowed.Count == 0 || item["value"] is not JsonValue v || allowed.Contains(v.ToString(), StringComparer.OrdinalIgnoreCase);
        });

    private sealed record Spec(List<JsonObject> Fields, List<List<JsonObject>> Profiles, string[] Runtime)
    {
        public IEnumerable<JsonObject> All => Fields.Concat(Profiles.SelectMany(p => p));

        public bool Defines(string name) =>
            Runtime.Contains(name, StringComparer.OrdinalIgnoreCase)
            || All.Select(f => (string)f["name"]!).Any(n => n.StartsWith('<')
                ? name.EndsWith(n[n.IndexOf('>')..].TrimStart('>'), StringComparison.OrdinalIgnoreCase)
                : string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
    }
}
