using Platform.Sidecar.PubSub;
using Platform.Sidecar.Secrets;
using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Platform.Sidecar.Resources;

/// <summary>
/// Reads the resource files daprd reads from <c>--resources-path</c>: Components, Subscriptions and
/// Resiliency, in any number of YAML documents per file. Anything it cannot honour stops start-up with a
/// <see cref="ResourceException"/> naming the file and the field.
/// </summary>
public static class ResourceLoader
{
    /// <summary>Loads every <c>*.yaml</c>/<c>*.yml</c> file under the given folders, as the app <paramref name="appId"/> sees them.</summary>
    public static LoadedResources Load(IEnumerable<string> paths, string appId)
    {
        var docs = new List<(string File, YamlMappingNode Root)>();
        foreach (var path in paths)
        {
            if (!Directory.Exists(path))
            {
                throw new ResourceException(path, "--resources-path", "folder does not exist");
            }

            var files = Directory.EnumerateFiles(path, "*.*", SearchOption.TopDirectoryOnly)
                .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                docs.AddRange(ReadDocuments(file).Select(d => (file, d)));
            }
        }

        var components = new List<(string File, YamlMappingNode Root)>();
        var subscriptions = new List<SubscriptionResource>();
        var retries = new Dictionary<string, RetryPolicy>(StringComparer.Ordinal);
        var apps = new Dictionary<string, TargetPolicy>(StringComparer.Ordinal);
        var actors = new Dictionary<string, TargetPolicy>(StringComparer.Ordinal);
        foreach (var (file, root) in docs)
        {
            var kind = Scalar(root, "kind");
            switch (kind)
            {
                case "Component":
                    components.Add((file, root));
                    break;
                case "Subscription":
                    var sub = ReadSubscription(file, root);
                    if (InScope(sub.Scopes, appId))
                    {
                        subscriptions.Add(sub);
                    }

                    break;
                case "Resiliency":
                    if (InScope(StringList(root, "scopes", file), appId))
                    {
                        ReadResiliency(file, root, retries, apps, actors);
                    }

                    break;
                case "Configuration" or "HTTPEndpoint":
                    // Configuration is read from --config; HTTPEndpoint is not used by this platform.
                    break;
                case null:
                    throw new ResourceException(file, "kind", "missing (expected Component, Subscription or Resiliency)");
                default:
                    throw new ResourceException(file, "kind", $"unknown kind '{kind}' (expected Component, Subscription or Resiliency)");
            }
        }

        var (loaded, skipped) = ReadComponents(components, appId);
        return new LoadedResources(loaded, subscriptions, retries, apps, actors) { Skipped = skipped };
    }

    private static List<YamlMappingNode> ReadDocuments(string file)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(file);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new ResourceException(file, $"line {e.Start.Line}", $"not valid YAML: {e.InnerException?.Message ?? e.Message}");
        }

        var result = new List<YamlMappingNode>();
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is YamlMappingNode map)
            {
                result.Add(map);
            }
            else if (doc.RootNode is not YamlScalarNode { Value: null or "" })
            {
                throw new ResourceException(file, "document", "expected a mapping with apiVersion, kind, metadata and spec");
            }
        }

        return result;
    }

    private static (List<ComponentResource> Components, List<SkippedComponent> Skipped) ReadComponents(List<(string File, YamlMappingNode Root)> docs, string appId)
    {
        // A component with spec.ignoreErrors: true that cannot be used is logged and skipped, as daprd does with a
        // component whose init fails (dapr/dapr pkg/runtime/components.go initComponentBlocking: "Ignoring error
        // processing component"); without it, the failure stops start-up.
        var skipped = new List<SkippedComponent>();
        var raw = new List<RawComponent>();
        foreach (var (file, root) in docs)
        {
            var ignoreErrors = IgnoreErrors(file, root);
            try
            {
                var c = ReadComponent(file, root) with { IgnoreErrors = ignoreErrors };
                if (InScope(c.Scopes, appId))
                {
                    raw.Add(c);
                }
            }
            catch (ResourceException e) when (ignoreErrors)
            {
                if (InScopeLeniently(root, appId))
                {
                    skipped.Add(new SkippedComponent(Scalar(Map(root, "metadata"), "name") ?? "", file, e.Message));
                }
            }
        }

        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var c in raw)
        {
            if (!seen.TryAdd(c.Name, c.File))
            {
                throw new ResourceException(c.File, "metadata.name", $"a component named '{c.Name}' is already defined in {seen[c.Name]}");
            }
        }

        // Secret stores first: other components may take metadata values from them by secretKeyRef.
        var secretStores = new Dictionary<string, ISecretStore>(StringComparer.Ordinal);
        foreach (var c in raw.Where(c => c.Type.StartsWith("secretstores.", StringComparison.Ordinal)).ToList())
        {
            try
            {
                secretStores[c.Name] = SecretStores.Open(Resolve(c, null));
            }
            catch (ResourceException e) when (c.IgnoreErrors)
            {
                skipped.Add(new SkippedComponent(c.Name, c.File, e.Message));
                raw.Remove(c);
            }
        }

        var components = new List<ComponentResource>();
        foreach (var c in raw)
        {
            try
            {
                components.Add(Resolve(c, secretStores));
            }
            catch (ResourceException e) when (c.IgnoreErrors)
            {
                skipped.Add(new SkippedComponent(c.Name, c.File, e.Message));
            }
        }

        return (components, skipped);
    }

    /// <summary>
    /// <c>spec.ignoreErrors</c>: a boolean (daprd's ComponentSpec.IgnoreErrors, <c>bool</c>), false when absent. daprd
    /// reads the file with sigs.k8s.io/yaml (YAML 1.1), so a plain <c>true</c>/<c>True</c>/<c>TRUE</c>/<c>yes</c>/<c>on</c>/<c>y</c>
    /// (and their negatives) is a boolean and anything else, a quoted <c>"true"</c> included, fails to decode and
    /// stops start-up (pkg/internal/loader/disk/manifest.go) whether or not the component is otherwise usable.
    /// </summary>
    private static bool IgnoreErrors(string file, YamlMappingNode root)
    {
        var spec = Map(root, "spec");
        if (spec is null || !spec.Children.TryGetValue(new YamlScalarNode("ignoreErrors"), out var node))
        {
            return false;
        }

        var scalar = node as YamlScalarNode;
        var text = scalar?.Value ?? "";
        if (scalar is { Style: YamlDotNet.Core.ScalarStyle.Plain or YamlDotNet.Core.ScalarStyle.Any })
        {
            switch (text)
            {
                case "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON" or "y" or "Y":
                    return true;
                case "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF" or "n" or "N":
                    return false;
            }
        }

        throw new ResourceException(file, "spec.ignoreErrors",
            $"component '{Scalar(Map(root, "metadata"), "name")}': '{text}' is not true or false");
    }

    /// <summary>Whether a component that could not be read is meant for this app (no or unreadable scopes: yes).</summary>
    private static bool InScopeLeniently(YamlMappingNode root, string appId)
    {
        try
        {
            return InScope(StringList(root, "scopes", ""), appId);
        }
        catch (ResourceException)
        {
            return true;
        }
    }

    private sealed record RawComponent(string Name, string Type, string Version, List<RawMetadata> Metadata, string? SecretStore, List<string> Scopes, string File)
    {
        public bool IgnoreErrors { get; init; }
    }

    private sealed record RawMetadata(string Name, string? Value, string? SecretName, string? SecretKey);

    private static RawComponent ReadComponent(string file, YamlMappingNode root)
    {
        var api = Scalar(root, "apiVersion");
        if (api != "dapr.io/v1alpha1")
        {
            throw new ResourceException(file, "apiVersion", $"'{api}' is not a Component apiVersion (expected dapr.io/v1alpha1)");
        }

        var name = Scalar(Map(root, "metadata"), "name") ?? throw new ResourceException(file, "metadata.name", "required");
        var spec = Map(root, "spec") ?? throw new ResourceException(file, "spec", $"component '{name}' has no spec");
        var type = Scalar(spec, "type") ?? throw new ResourceException(file, "spec.type", $"component '{name}': required");
        var version = Scalar(spec, "version") ?? throw new ResourceException(file, "spec.version", $"component '{name}': required (v1)");
        if (type is "pubsub.kafka" or "pubsub.pulsar" || (!ComponentCatalog.Known.ContainsKey(type) && ComponentCatalog.NeedsDaprRuntime(type)))
        {
            throw new ResourceException(file, "spec.type",
                $"component '{name}' of type {type} needs the Dapr runtime; use components/redis or components/local here");
        }

        if (!ComponentCatalog.Known.TryGetValue(type, out var kind))
        {
            throw new ResourceException(file, "spec.type",
                $"unknown component type '{type}' (this sidecar implements {string.Join(", ", ComponentCatalog.Known.Keys)})");
        }

        if (version != "v1")
        {
            throw new ResourceException(file, "spec.version", $"component '{name}': {type} has version v1, not '{version}'");
        }

        var metadata = new List<RawMetadata>();
        if (spec.Children.TryGetValue(new YamlScalarNode("metadata"), out var metaNode))
        {
            if (metaNode is not YamlSequenceNode items)
            {
                throw new ResourceException(file, "spec.metadata", "must be a list of {name, value} items");
            }

            foreach (var item in items)
            {
                if (item is not YamlMappingNode m || Scalar(m, "name") is not { } itemName)
                {
                    throw new ResourceException(file, "spec.metadata", "every item needs a name");
                }

                var field = $"spec.metadata[{itemName}]";
                if (!kind.Allowed.Contains(itemName, StringComparer.Ordinal))
                {
                    throw new ResourceException(file, field,
                        $"'{itemName}' is not a metadata name of {type} (accepted: {string.Join(", ", kind.Allowed)})");
                }

                if (metadata.Any(x => x.Name == itemName))
                {
                    throw new ResourceException(file, field, "given twice");
                }

                var secretRef = Map(m, "secretKeyRef");
                if (secretRef is not null)
                {
                    var secretName = Scalar(secretRef, "name") ?? throw new ResourceException(file, field + ".secretKeyRef.name", "required");
                    metadata.Add(new RawMetadata(itemName, null, secretName, Scalar(secretRef, "key") ?? secretName));
                }
                else
                {
                    metadata.Add(new RawMetadata(itemName, Scalar(m, "value") ?? "", null, null));
                }
            }
        }

        foreach (var required in kind.Required)
        {
            if (!metadata.Any(x => x.Name == required && (x.SecretName is not null || !string.IsNullOrWhiteSpace(x.Value))))
            {
                throw new ResourceException(file, $"spec.metadata[{required}]", $"component '{name}' ({type}) requires it");
            }
        }

        var secretStore = Scalar(Map(root, "auth"), "secretStore");
        return new RawComponent(name, type, version, metadata, secretStore, StringList(root, "scopes", file), file);
    }

    private static ComponentResource Resolve(RawComponent c, Dictionary<string, ISecretStore>? stores)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in c.Metadata)
        {
            if (m.SecretName is null)
            {
                values[m.Name] = m.Value ?? "";
                continue;
            }

            var field = $"spec.metadata[{m.Name}].secretKeyRef";
            if (stores is null)
            {
                throw new ResourceException(c.File, field, "a secret store cannot take its own metadata from a secret");
            }

            if (c.SecretStore is null)
            {
                throw new ResourceException(c.File, "auth.secretStore", $"component '{c.Name}' uses secretKeyRef, so it must name its secret store");
            }

            if (!stores.TryGetValue(c.SecretStore, out var store))
            {
                throw new ResourceException(c.File, "auth.secretStore", $"secret store '{c.SecretStore}' is not defined in the resources path");
            }

            IReadOnlyDictionary<string, string> secret;
            try
            {
                secret = store.Get(m.SecretName);
            }
            catch (SecretNotFoundException)
            {
                throw new ResourceException(c.File, field, $"secret '{m.SecretName}' is not in secret store '{c.SecretStore}'");
            }

            values[m.Name] = secret.TryGetValue(m.SecretKey!, out var v) ? v
                : throw new ResourceException(c.File, field, $"secret '{m.SecretName}' has no key '{m.SecretKey}'");
        }

        return new ComponentResource(c.Name, c.Type, c.Version, values, c.Scopes, c.File) { IgnoreErrors = c.IgnoreErrors };
    }

    private static SubscriptionResource ReadSubscription(string file, YamlMappingNode root)
    {
        var api = Scalar(root, "apiVersion");
        if (api is not ("dapr.io/v1alpha1" or "dapr.io/v2alpha1"))
        {
            throw new ResourceException(file, "apiVersion", $"'{api}' is not a Subscription apiVersion (dapr.io/v1alpha1 or dapr.io/v2alpha1)");
        }

        var name = Scalar(Map(root, "metadata"), "name") ?? throw new ResourceException(file, "metadata.name", "required");
        var spec = Map(root, "spec") ?? throw new ResourceException(file, "spec", $"subscription '{name}' has no spec");
        var pubsub = Scalar(spec, "pubsubname") ?? throw new ResourceException(file, "spec.pubsubname", $"subscription '{name}': required");
        var topic = Scalar(spec, "topic") ?? throw new ResourceException(file, "spec.topic", $"subscription '{name}': required");
        var rules = new List<RouteRule>();
        if (Map(spec, "routes") is { } routes)
        {
            if (routes.Children.TryGetValue(new YamlScalarNode("rules"), out var rulesNode) && rulesNode is YamlSequenceNode seq)
            {
                foreach (var r in seq.OfType<YamlMappingNode>())
                {
                    var path = Scalar(r, "path") ?? throw new ResourceException(file, "spec.routes.rules[].path", $"subscription '{name}': required");
                    var match = Scalar(r, "match") ?? "";
                    try
                    {
                        RouteMatch.Compile(match);
                    }
                    catch (FormatException e)
                    {
                        throw new ResourceException(file, "spec.routes.rules[].match", $"subscription '{name}': {e.Message}");
                    }

                    rules.Add(new RouteRule(match, path));
                }
            }

            if (Scalar(routes, "default") is { } def)
            {
                rules.Add(new RouteRule("", def));
            }
        }
        else if (Scalar(spec, "route") is { } route)
        {
            rules.Add(new RouteRule("", route));
        }

        if (rules.Count == 0)
        {
            throw new ResourceException(file, "spec.routes", $"subscription '{name}' has no route");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Map(spec, "metadata") is { } meta)
        {
            foreach (var (k, v) in meta.Children)
            {
                metadata[((YamlScalarNode)k).Value!] = (v as YamlScalarNode)?.Value ?? "";
            }
        }

        return new SubscriptionResource(name, pubsub, topic, rules, Scalar(spec, "deadLetterTopic"), metadata, StringList(root, "scopes", file), file,
            ReadBulkSubscribe(file, name, Map(spec, "bulkSubscribe")));
    }

    /// <summary><c>spec.bulkSubscribe</c>, read by daprd from v1alpha1 and v2alpha1 Subscriptions alike (dapr/dapr pkg/apis/subscriptions/*/types.go BulkSubscribe).</summary>
    private static BulkSubscribeOptions? ReadBulkSubscribe(string file, string name, YamlMappingNode? bulk)
    {
        if (bulk is null)
        {
            return null;
        }

        long? Number(string key)
        {
            var text = Scalar(bulk, key);
            return text is null ? null
                : long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
                : throw new ResourceException(file, $"spec.bulkSubscribe.{key}", $"subscription '{name}': '{text}' is not a whole number");
        }

        var enabled = Scalar(bulk, "enabled") switch
        {
            null => false,
            var e when bool.TryParse(e, out var b) => b,
            var e => throw new ResourceException(file, "spec.bulkSubscribe.enabled", $"subscription '{name}': '{e}' is not true or false"),
        };
        return BulkSubscribeOptions.From(enabled, Number("maxMessagesCount"), Number("maxAwaitDurationMs"));
    }

    private static void ReadResiliency(string file, YamlMappingNode root, Dictionary<string, RetryPolicy> inbound, Dictionary<string, TargetPolicy> apps,
        Dictionary<string, TargetPolicy> actors)
    {
        var spec = Map(root, "spec") ?? throw new ResourceException(file, "spec", "required");
        var policies = new Dictionary<string, RetryPolicy>(StringComparer.Ordinal);
        if (Map(Map(spec, "policies"), "retries") is { } retries)
        {
            foreach (var (k, v) in retries.Children)
            {
                var name = ((YamlScalarNode)k).Value!;
                var p = v as YamlMappingNode ?? throw new ResourceException(file, $"spec.policies.retries.{name}", "must be a mapping");
                var kind = Scalar(p, "policy") ?? "constant";
                if (kind is not ("constant" or "exponential"))
                {
                    throw new ResourceException(file, $"spec.policies.retries.{name}.policy", $"'{kind}' (expected constant or exponential)");
                }

                var duration = Duration(file, p, $"spec.policies.retries.{name}.duration", kind == "constant" ? "5s" : "500ms");
                var maxInterval = Duration(file, p, $"spec.policies.retries.{name}.maxInterval", "60s");
                var maxRetriesText = Scalar(p, "maxRetries") ?? "-1";
                if (!int.TryParse(maxRetriesText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var maxRetries) || maxRetries < -1)
                {
                    throw new ResourceException(file, $"spec.policies.retries.{name}.maxRetries", $"'{maxRetriesText}' is not a whole number ≥ -1");
                }

                policies[name] = new RetryPolicy(name, kind == "exponential", duration, maxInterval, maxRetries);
            }
        }

        var timeouts = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        if (Map(Map(spec, "policies"), "timeouts") is { } timeoutNodes)
        {
            foreach (var (k, v) in timeoutNodes.Children)
            {
                var name = ((YamlScalarNode)k).Value!;
                var text = (v as YamlScalarNode)?.Value ?? "";
                timeouts[name] = GoDuration.TryParse(text, TimeSpan.FromMilliseconds(1), out var t) ? t
                    : throw new ResourceException(file, $"spec.policies.timeouts.{name}", $"'{text}' is not a duration (e.g. 5s)");
            }
        }

        var breakers = new Dictionary<string, BreakerPolicy>(StringComparer.Ordinal);
        if (Map(Map(spec, "policies"), "circuitBreakers") is { } breakerNodes)
        {
            foreach (var (k, v) in breakerNodes.Children)
            {
                var name = ((YamlScalarNode)k).Value!;
                var at = $"spec.policies.circuitBreakers.{name}";
                var b = v as YamlMappingNode ?? throw new ResourceException(file, at, "must be a mapping");
                var trip = Scalar(b, "trip") ?? "consecutiveFailures >= 5";
                var m = System.Text.RegularExpressions.Regex.Match(trip, @"^\s*consecutiveFailures\s*(>=|>)\s*(\d+)\s*$");
                if (!m.Success)
                {
                    throw new ResourceException(file, at + ".trip", $"'{trip}' is not supported here (use consecutiveFailures >= N)");
                }

                var n = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) + (m.Groups[1].Value == ">" ? 1 : 0);
                var maxText = Scalar(b, "maxRequests") ?? "1";
                if (!int.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out var max) || max < 1)
                {
                    throw new ResourceException(file, at + ".maxRequests", $"'{maxText}' is not a positive whole number");
                }

                breakers[name] = new BreakerPolicy(name, max, Duration(file, b, at + ".interval", "0s"), Duration(file, b, at + ".timeout", "60s"), Math.Max(1, n));
            }
        }

        // targets.apps (invocation by app-id) and targets.actors (calls by actor type) take the same three policies.
        foreach (var (group, into) in new[] { ("apps", apps), ("actors", actors) })
        {
            if (Map(Map(spec, "targets"), group) is not { } targets)
            {
                continue;
            }

            foreach (var (k, v) in targets.Children)
            {
                var target = ((YamlScalarNode)k).Value!;
                var at = $"spec.targets.{group}.{target}";
                var t = v as YamlMappingNode;
                T? Pick<T>(string key, Dictionary<string, T> from) where T : class =>
                    Scalar(t, key) is { } n ? (from.TryGetValue(n, out var p) ? p : throw new ResourceException(file, $"{at}.{key}", $"no {key} policy named '{n}'")) : null;
                TimeSpan? timeout = Scalar(t, "timeout") is { } tn
                    ? (timeouts.TryGetValue(tn, out var d) ? d : GoDuration.TryParse(tn, TimeSpan.FromMilliseconds(1), out var inline) ? inline
                        : throw new ResourceException(file, at + ".timeout", $"no timeout policy named '{tn}'"))
                    : null;
                into[target] = new TargetPolicy(timeout, Pick("retry", policies), Pick("circuitBreaker", breakers));
            }
        }

        if (Map(Map(spec, "targets"), "components") is { } components)
        {
            foreach (var (k, v) in components.Children)
            {
                var component = ((YamlScalarNode)k).Value!;
                if (Scalar(Map(v as YamlMappingNode, "inbound"), "retry") is { } retryName)
                {
                    inbound[component] = policies.TryGetValue(retryName, out var policy) ? policy
                        : throw new ResourceException(file, $"spec.targets.components.{component}.inbound.retry", $"no retry policy named '{retryName}'");
                }
            }
        }
    }

    private static TimeSpan Duration(string file, YamlMappingNode node, string field, string fallback)
    {
        var text = Scalar(node, field[(field.LastIndexOf('.') + 1)..]) ?? fallback;
        return GoDuration.TryParse(text, TimeSpan.FromMilliseconds(1), out var d) ? d
            : throw new ResourceException(file, field, $"'{text}' is not a duration (e.g. 500ms, 5s, 1m)");
    }

    internal static bool InScope(IReadOnlyList<string> scopes, string appId) => scopes.Count == 0 || scopes.Contains(appId, StringComparer.Ordinal);

    internal static YamlMappingNode? Map(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v as YamlMappingNode : null;

    internal static string? Scalar(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    private static List<string> StringList(YamlMappingNode node, string key, string file)
    {
        if (!node.Children.TryGetValue(new YamlScalarNode(key), out var v) || v is YamlScalarNode { Value: null or "" })
        {
            return [];
        }

        return v is YamlSequenceNode seq
            ? seq.Select(x => (x as YamlScalarNode)?.Value ?? throw new ResourceException(file, key, "must be a list of strings")).ToList()
            : throw new ResourceException(file, key, "must be a list");
    }
}
