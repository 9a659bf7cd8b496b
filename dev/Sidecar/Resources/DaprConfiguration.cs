using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Platform.Sidecar.Resources;

/// <summary>One operation rule of an access-control policy: a path pattern, the verbs it covers, allow or deny.</summary>
public sealed record AccessOperation(string Name, IReadOnlyList<string> Verbs, bool Allow);

/// <summary>The policy for calls from one app-id.</summary>
public sealed record AccessPolicy(string AppId, bool DefaultAllow, IReadOnlyList<AccessOperation> Operations);

/// <summary>
/// <c>spec.accessControl</c> of a Dapr Configuration: applied by the callee's sidecar to every invocation. A call
/// from an app with a policy takes the first operation rule that matches its path and verb, else that policy's
/// default; a call from an app without a policy takes the global default. Denied calls get 403 and never reach
/// the app. Patterns as Dapr writes them: <c>/op</c>, <c>/op/*</c> (one segment), <c>/op/**</c> (any depth). The
/// method judged is the decoded, cleaned one the app receives (<see cref="Invocation.MethodPath"/>).
/// </summary>
public sealed record AccessControl(bool DefaultAllow, IReadOnlyDictionary<string, AccessPolicy> Policies)
{
    public bool Allows(string? callerAppId, string method, string verb)
    {
        if (callerAppId is null || !Policies.TryGetValue(callerAppId, out var policy))
        {
            return DefaultAllow;
        }

        var path = "/" + method.Split('?')[0].Trim('/');
        foreach (var op in policy.Operations)
        {
            if (Matches(op.Name, path) && (op.Verbs.Count == 0 || op.Verbs.Any(v => v == "*" || v.Equals(verb, StringComparison.OrdinalIgnoreCase))))
            {
                return op.Allow;
            }
        }

        return policy.DefaultAllow;
    }

    private static bool Matches(string pattern, string path)
    {
        var p = pattern.Trim('/').Split('/');
        var s = path.Trim('/').Split('/');
        return Match(p, 0, s, 0);

        static bool Match(string[] p, int i, string[] s, int j)
        {
            if (i == p.Length)
            {
                return j == s.Length;
            }

            if (p[i] == "**")
            {
                return Enumerable.Range(j, s.Length - j + 1).Any(k => Match(p, i + 1, s, k));
            }

            // Case-insensitive: daprd lowercases both sides for an HTTP app (dapr/dapr pkg/acl/acl.go).
            return j < s.Length && (p[i] == "*" || p[i].Equals(s[j], StringComparison.OrdinalIgnoreCase)) && Match(p, i + 1, s, j + 1);
        }
    }
}

/// <summary>
/// One entry of <c>spec.secrets.scopes</c>: which secrets of one store the app may read through the secrets API.
/// daprd's rule (dapr/dapr pkg/config/configuration.go <c>SecretsScope.IsSecretAllowed</c>): a non-empty
/// <c>allowedSecrets</c> decides alone; else a name in <c>deniedSecrets</c> is refused; else <c>defaultAccess</c>.
/// </summary>
public sealed record SecretScope(string StoreName, bool DefaultAllow, IReadOnlySet<string> AllowedSecrets, IReadOnlySet<string> DeniedSecrets)
{
    public bool Allows(string key) =>
        AllowedSecrets.Count > 0 ? AllowedSecrets.Contains(key) : !DeniedSecrets.Contains(key) && DefaultAllow;
}

/// <summary>The secret scopes of a Configuration by store name; a store without one is open (as in daprd).</summary>
public sealed record SecretScopes(IReadOnlyDictionary<string, SecretScope> ByStore)
{
    public static readonly SecretScopes None = new(new Dictionary<string, SecretScope>());

    public bool Allows(string store, string key) => !ByStore.TryGetValue(store, out var scope) || scope.Allows(key);
}

/// <summary><c>spec.tracing</c>: sampling rate and the OTLP collector spans go to.</summary>
public sealed record TracingSettings(double SamplingRate, string? OtlpEndpoint, bool OtlpGrpc);

/// <summary>What this sidecar takes from a Dapr Configuration file (<c>--config</c>).</summary>
public sealed record DaprConfiguration(AccessControl? AccessControl, TracingSettings? Tracing, SecretScopes Secrets)
{
    public static readonly DaprConfiguration Empty = new(null, null, SecretScopes.None);

    public static DaprConfiguration Load(string? file)
    {
        if (file is null)
        {
            return Empty;
        }

        if (!File.Exists(file))
        {
            throw new ResourceException(file, "--config", "file not found");
        }

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

        var root = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().FirstOrDefault(d => ResourceLoader.Scalar(d, "kind") == "Configuration")
            ?? throw new ResourceException(file, "kind", "no document of kind Configuration");
        var spec = ResourceLoader.Map(root, "spec");
        return new DaprConfiguration(ReadAccessControl(file, ResourceLoader.Map(spec, "accessControl")), ReadTracing(file, ResourceLoader.Map(spec, "tracing")),
            ReadSecretScopes(file, ResourceLoader.Map(spec, "secrets")));
    }

    /// <summary>daprd refuses a repeated storeName and a defaultAccess other than allow/deny (any case) when it loads the Configuration.</summary>
    private static SecretScopes ReadSecretScopes(string file, YamlMappingNode? node)
    {
        if (node is null || !node.Children.TryGetValue(new YamlScalarNode("scopes"), out var list) || list is not YamlSequenceNode seq)
        {
            return SecretScopes.None;
        }

        var scopes = new Dictionary<string, SecretScope>(StringComparer.Ordinal);
        var i = 0;
        foreach (var item in seq.OfType<YamlMappingNode>())
        {
            var at = $"spec.secrets.scopes[{i++}]";
            var store = ResourceLoader.Scalar(item, "storeName") ?? throw new ResourceException(file, at + ".storeName", "required");
            if (scopes.ContainsKey(store))
            {
                throw new ResourceException(file, at + ".storeName", $"'{store}' has a scope already (one per store)");
            }

            var access = ResourceLoader.Scalar(item, "defaultAccess") ?? "";
            var deny = access.Equals("deny", StringComparison.OrdinalIgnoreCase);
            if (!deny && access.Length > 0 && !access.Equals("allow", StringComparison.OrdinalIgnoreCase))
            {
                throw new ResourceException(file, at + ".defaultAccess", $"'{access}' (expected allow or deny)");
            }

            scopes[store] = new SecretScope(store, !deny, Names(item, "allowedSecrets", at), Names(item, "deniedSecrets", at));
        }

        return new SecretScopes(scopes);

        HashSet<string> Names(YamlMappingNode item, string key, string at) =>
            !item.Children.TryGetValue(new YamlScalarNode(key), out var names) ? []
            : names is YamlSequenceNode s ? [.. s.OfType<YamlScalarNode>().Select(n => n.Value ?? "")]
            : throw new ResourceException(file, $"{at}.{key}", "must be a list of secret names");
    }

    private static AccessControl? ReadAccessControl(string file, YamlMappingNode? node)
    {
        if (node is null)
        {
            return null;
        }

        var policies = new Dictionary<string, AccessPolicy>(StringComparer.Ordinal);
        if (node.Children.TryGetValue(new YamlScalarNode("policies"), out var list) && list is YamlSequenceNode seq)
        {
            var i = 0;
            foreach (var item in seq.OfType<YamlMappingNode>())
            {
                var at = $"spec.accessControl.policies[{i++}]";
                var appId = ResourceLoader.Scalar(item, "appId") ?? throw new ResourceException(file, at + ".appId", "required");
                var ops = new List<AccessOperation>();
                if (item.Children.TryGetValue(new YamlScalarNode("operations"), out var opsNode) && opsNode is YamlSequenceNode opsSeq)
                {
                    foreach (var op in opsSeq.OfType<YamlMappingNode>())
                    {
                        var name = ResourceLoader.Scalar(op, "name") ?? throw new ResourceException(file, at + ".operations[].name", "required");
                        var verbs = op.Children.TryGetValue(new YamlScalarNode("httpVerb"), out var v) && v is YamlSequenceNode vs
                            ? vs.OfType<YamlScalarNode>().Select(x => x.Value ?? "").ToList()
                            : [];
                        ops.Add(new AccessOperation(name, verbs, Action(file, at + ".operations[].action", ResourceLoader.Scalar(op, "action") ?? "allow")));
                    }
                }

                policies[appId] = new AccessPolicy(appId, Action(file, at + ".defaultAction", ResourceLoader.Scalar(item, "defaultAction") ?? "allow"), ops);
            }
        }

        return new AccessControl(Action(file, "spec.accessControl.defaultAction", ResourceLoader.Scalar(node, "defaultAction") ?? "allow"), policies);
    }

    private static bool Action(string file, string field, string value) => value switch
    {
        "allow" => true,
        "deny" => false,
        _ => throw new ResourceException(file, field, $"'{value}' (expected allow or deny)"),
    };

    private static TracingSettings? ReadTracing(string file, YamlMappingNode? node)
    {
        if (node is null)
        {
            return null;
        }

        var rateText = ResourceLoader.Scalar(node, "samplingRate") ?? "1";
        if (!double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || rate is < 0 or > 1)
        {
            throw new ResourceException(file, "spec.tracing.samplingRate", $"'{rateText}' is not a number between 0 and 1");
        }

        var otel = ResourceLoader.Map(node, "otel");
        var endpoint = ResourceLoader.Scalar(otel, "endpointAddress");
        var secure = string.Equals(ResourceLoader.Scalar(otel, "isSecure"), "true", StringComparison.OrdinalIgnoreCase);
        var protocol = ResourceLoader.Scalar(otel, "protocol") ?? "grpc";
        if (protocol is not ("grpc" or "http"))
        {
            throw new ResourceException(file, "spec.tracing.otel.protocol", $"'{protocol}' (expected grpc or http)");
        }

        if (endpoint is not null && !endpoint.Contains("://", StringComparison.Ordinal))
        {
            endpoint = (secure ? "https://" : "http://") + endpoint;
        }

        return new TracingSettings(rate, endpoint, protocol == "grpc");
    }
}
