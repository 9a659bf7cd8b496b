using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// No secret value in any manifest: no Secret (or other object) carrying data, no sensitive component metadata or
/// secret-looking environment variable given as a literal, no credentials in KEDA trigger metadata. Secrets are
/// referenced (secretKeyRef, TriggerAuthentication secretTargetRef, dapr.io/api-token-secret) and created by the
/// operator with kubectl/helm, never committed.
/// </summary>
public static partial class SecretsCheck
{
    public static IReadOnlyList<string> Check(IReadOnlyList<JsonObject> objects, ComponentMetadata metadata)
    {
        var problems = new List<string>();
        foreach (var o in objects)
        {
            if (o.Kind() == "Secret" || o.ContainsKey("data") || o.ContainsKey("stringData"))
            {
                problems.Add($"{o.Id()}: carries data; create secrets out of band and reference them");
            }
        }

        var stores = objects.OfKind("Component").Where(c => ((string?)c["spec"]?["type"])?.StartsWith("secretstores.", StringComparison.Ordinal) is true)
            .Select(c => c.Name()).Append("kubernetes").ToHashSet();
        foreach (var c in objects.OfKind("Component"))
        {
            var sensitive = metadata.Sensitive((string?)c["spec"]?["type"] ?? "", (string?)c["spec"]?["version"] ?? "");
            foreach (var item in c.ComponentMetadata().Where(i => i.ContainsKey("value")))
            {
                var name = (string?)item["name"] ?? "";
                if ((sensitive.Contains(name) && !IsPlainAddress(c, name, item)) || SecretName().IsMatch(name))
                {
                    problems.Add($"{c.Id()}: '{name}' is given as a value; use secretKeyRef");
                }
            }

            var store = (string?)c["auth"]?["secretStore"] ?? "kubernetes";
            if (c.ComponentMetadata().Any(i => i.ContainsKey("secretKeyRef")) && !stores.Contains(store))
            {
                problems.Add($"{c.Id()}: secretKeyRef through unknown secret store '{store}'");
            }
        }

        foreach (var w in objects.Where(o => o.IsWorkload()))
        {
            var tokenSecret = w.Annotation("dapr.io/api-token-secret");
            if (tokenSecret is null)
            {
                problems.Add($"{w.Id()}: no dapr.io/api-token-secret: its sidecar would take API calls from anyone in the pod network");
            }

            foreach (var container in w.PodTemplate()["spec"]?["containers"].Objects() ?? [])
            {
                foreach (var env in container["env"].Objects())
                {
                    var name = (string?)env["name"] ?? "";
                    if (env.ContainsKey("value") && SecretName().IsMatch(name))
                    {
                        problems.Add($"{w.Id()}: env {name} is given as a value; use valueFrom.secretKeyRef");
                    }
                }

                var token = container["env"].Objects().FirstOrDefault(e => (string?)e["name"] == "DAPR_API_TOKEN")?["valueFrom"]?["secretKeyRef"];
                if (tokenSecret is not null && ((string?)token?["name"] != tokenSecret || (string?)token?["key"] != "token"))
                {
                    // The injector gives daprd the Secret's key "token" (dapr/dapr pkg/injector/patcher); the app must send the same.
                    problems.Add($"{w.Id()}: DAPR_API_TOKEN must come from Secret '{tokenSecret}' key 'token', as daprd's does");
                }
            }
        }

        foreach (var so in objects.OfKind("ScaledObject"))
        {
            foreach (var trigger in so["spec"]?["triggers"].Objects() ?? [])
            {
                foreach (var (key, _) in trigger["metadata"] as JsonObject ?? [])
                {
                    if (SecretName().IsMatch(key) && !key.EndsWith("FromEnv", StringComparison.Ordinal))
                    {
                        problems.Add($"{so.Id()}: trigger metadata '{key}' holds a credential; use a TriggerAuthentication");
                    }
                }
            }
        }

        foreach (var ta in objects.OfKind("TriggerAuthentication"))
        {
            foreach (var (key, _) in ta["spec"] as JsonObject ?? [])
            {
                if (key is not ("secretTargetRef" or "env" or "podIdentity"))
                {
                    problems.Add($"{ta.Id()}: '{key}' — take credentials from secretTargetRef only");
                }
            }
        }

        return problems;
    }

    /// <summary>
    /// Pulsar's <c>host</c> is marked sensitive because a service URL can carry credentials (user:password@host); a
    /// bare host:port carries none, so it may stay a value. Anything with user info must be a secretKeyRef.
    /// </summary>
    private static bool IsPlainAddress(JsonObject component, string name, JsonObject item) =>
        (string?)component["spec"]?["type"] == "pubsub.pulsar" && name == "host" && item["value"] is JsonValue v && !v.ToString().Contains('@', StringComparison.Ordinal);

    [GeneratedRegex("password|passwd|secret|token|apikey|api_key|privatekey|private_key|credential", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();
}
