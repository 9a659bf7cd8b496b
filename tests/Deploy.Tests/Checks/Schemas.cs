using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// The schema for each kind the overlays render: Kubernetes' own (standalone-strict, v1.32) and the Dapr and KEDA
/// CRDs' storage versions. A kind without a schema here is itself a failure: add its schema when you render it.
/// </summary>
public static class Schemas
{
    private static readonly Dictionary<(string ApiVersion, string Kind), (string File, bool Crd)> Files = new()
    {
        [("v1", "Namespace")] = ("kubernetes/namespace-v1.json", false),
        [("v1", "Service")] = ("kubernetes/service-v1.json", false),
        [("v1", "ServiceAccount")] = ("kubernetes/serviceaccount-v1.json", false),
        [("apps/v1", "Deployment")] = ("kubernetes/deployment-apps-v1.json", false),
        [("apps/v1", "StatefulSet")] = ("kubernetes/statefulset-apps-v1.json", false),
        [("policy/v1", "PodDisruptionBudget")] = ("kubernetes/poddisruptionbudget-policy-v1.json", false),
        [("networking.k8s.io/v1", "NetworkPolicy")] = ("kubernetes/networkpolicy-networking-v1.json", false),
        [("networking.k8s.io/v1", "Ingress")] = ("kubernetes/ingress-networking-v1.json", false),
        [("autoscaling/v2", "HorizontalPodAutoscaler")] = ("kubernetes/horizontalpodautoscaler-autoscaling-v2.json", false),
        [("dapr.io/v1alpha1", "Component")] = ("crds/component-dapr-v1alpha1.json", true),
        [("dapr.io/v1alpha1", "Configuration")] = ("crds/configuration-dapr-v1alpha1.json", true),
        [("dapr.io/v1alpha1", "Resiliency")] = ("crds/resiliency-dapr-v1alpha1.json", true),
        [("keda.sh/v1alpha1", "ScaledObject")] = ("crds/scaledobject-keda-v1alpha1.json", true),
        [("keda.sh/v1alpha1", "TriggerAuthentication")] = ("crds/triggerauthentication-keda-v1alpha1.json", true),
    };

    private static readonly ConcurrentDictionary<string, SchemaChecker> Loaded = new();

    /// <summary>The (apiVersion, kind) pairs a schema is kept for.</summary>
    public static IReadOnlyCollection<(string ApiVersion, string Kind)> Kinds => Files.Keys;

    /// <summary>Problems of one object: its schema's violations, or that no schema is kept for its kind.</summary>
    public static IReadOnlyList<string> Check(JsonObject o)
    {
        if (!Files.TryGetValue((o.ApiVersion(), o.Kind()), out var entry))
        {
            return [$"{o.Id()}: no schema kept for {o.ApiVersion()} {o.Kind()}"];
        }

        var checker = Loaded.GetOrAdd(entry.File, f => SchemaChecker.Load(Repo.Schemas(f), closedByDefault: entry.Crd));
        var errors = checker.Check(o).Select(e => $"{o.Id()}: {e}").ToList();
        if (entry.Crd)
        {
            // CRD schemas leave the envelope to the API server; check it here as it would.
            errors.AddRange(Envelope(o));
        }

        return errors;
    }

    private static IEnumerable<string> Envelope(JsonObject o)
    {
        var allowed = new HashSet<string> { "name", "namespace", "labels", "annotations" };
        foreach (var key in (o["metadata"] as JsonObject ?? []).Select(kv => kv.Key).Where(k => !allowed.Contains(k)))
        {
            yield return $"{o.Id()}: $.metadata.{key}: unknown field";
        }

        if (string.IsNullOrEmpty(o.Name()))
        {
            yield return $"{o.Id()}: $.metadata.name is missing";
        }
    }
}
