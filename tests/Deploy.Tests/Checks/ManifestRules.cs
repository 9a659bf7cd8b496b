using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// What the schemas cannot say but a cluster would punish: Dapr annotations that the injector never reads (on the
/// workload instead of the pod, or misspelt), a graceful shutdown longer than the pod's grace period, selectors and
/// references that point at nothing, a PDB with both bounds, two autoscalers on one workload, missing probes/limits.
/// </summary>
public static class ManifestRules
{
    private static readonly HashSet<string> DaprAnnotations = LoadDaprAnnotations();

    public static IReadOnlyList<string> Check(IReadOnlyList<JsonObject> objects)
    {
        var problems = new List<string>();
        var workloads = objects.Where(o => o.IsWorkload()).ToList();
        foreach (var w in workloads)
        {
            problems.AddRange(Workload(w).Select(p => $"{w.Id()}: {p}"));
        }

        foreach (var o in objects.Where(o => !o.IsWorkload()))
        {
            if (o["metadata"]?["annotations"] is JsonObject a && a.Any(kv => kv.Key.StartsWith("dapr.io/", StringComparison.Ordinal)))
            {
                problems.Add($"{o.Id()}: dapr.io annotations belong on a pod template only");
            }
        }

        static bool Matches(JsonNode? selector, JsonObject workload) => selector is JsonObject { Count: > 0 } sel &&
            sel.All(kv => (string?)workload.PodTemplate()["metadata"]?["labels"]?[kv.Key] == (string?)kv.Value);
        bool Selects(JsonNode? selector) => workloads.Any(w => Matches(selector, w));

        foreach (var svc in objects.OfKind("Service"))
        {
            var selector = svc["spec"]?["selector"];
            var target = workloads.FirstOrDefault(w => Matches(selector, w));
            if (target is null)
            {
                problems.Add($"{svc.Id()}: its selector matches no workload");
                continue;
            }

            foreach (var port in svc["spec"]?["ports"].Objects() ?? [])
            {
                var targetPort = port["targetPort"]?.ToString();
                if (!target.AppContainer()["ports"].Objects().Any(p => (string?)p["name"] == targetPort || p["containerPort"]?.ToString() == targetPort))
                {
                    problems.Add($"{svc.Id()}: targetPort {targetPort} is no port of {target.Id()}");
                }
            }
        }

        foreach (var sts in objects.OfKind("StatefulSet"))
        {
            var serviceName = (string?)sts["spec"]?["serviceName"];
            var headless = objects.OfKind("Service").FirstOrDefault(s => s.Name() == serviceName);
            if (headless is null || (string?)headless["spec"]?["clusterIP"] != "None")
            {
                problems.Add($"{sts.Id()}: serviceName '{serviceName}' is not a headless Service here");
            }
        }

        foreach (var pdb in objects.OfKind("PodDisruptionBudget"))
        {
            if (pdb["spec"]?["minAvailable"] is not null && pdb["spec"]?["maxUnavailable"] is not null)
            {
                problems.Add($"{pdb.Id()}: minAvailable and maxUnavailable are mutually exclusive");
            }

            if (!Selects(pdb["spec"]?["selector"]?["matchLabels"]))
            {
                problems.Add($"{pdb.Id()}: its selector matches no workload");
            }
        }

        foreach (var np in objects.OfKind("NetworkPolicy"))
        {
            var labels = np["spec"]?["podSelector"]?["matchLabels"];
            if (labels is JsonObject { Count: > 0 } && !Selects(labels))
            {
                problems.Add($"{np.Id()}: its podSelector matches no workload");
            }
        }

        foreach (var ingress in objects.OfKind("Ingress"))
        {
            foreach (var backend in ingress["spec"]?["rules"].Objects().SelectMany(r => r["http"]?["paths"].Objects() ?? []).Select(p => p["backend"]?["service"]) ?? [])
            {
                var svc = objects.OfKind("Service").FirstOrDefault(s => s.Name() == (string?)backend?["name"]);
                var portName = (string?)backend?["port"]?["name"];
                if (svc is null || !svc["spec"]!["ports"].Objects().Any(p => (string?)p["name"] == portName))
                {
                    problems.Add($"{ingress.Id()}: backend {backend?["name"]}:{portName} is no Service port here");
                }
            }
        }

        var scaledByKeda = objects.OfKind("ScaledObject").Select(so => (string?)so["spec"]?["scaleTargetRef"]?["name"]).ToList();
        var scaledByHpa = objects.OfKind("HorizontalPodAutoscaler").Select(h => (string?)h["spec"]?["scaleTargetRef"]?["name"]).ToList();
        foreach (var target in scaledByKeda.Concat(scaledByHpa))
        {
            if (!workloads.Any(w => w.Name() == target))
            {
                problems.Add($"autoscaler target '{target}' is no workload here");
            }
        }

        foreach (var both in scaledByKeda.Intersect(scaledByHpa))
        {
            problems.Add($"'{both}' is scaled by both KEDA and an HPA (KEDA makes its own HPA)");
        }

        return problems;
    }

    private static IEnumerable<string> Workload(JsonObject w)
    {
        if (w["metadata"]?["annotations"] is JsonObject own && own.Any(kv => kv.Key.StartsWith("dapr.io/", StringComparison.Ordinal)))
        {
            yield return "dapr.io annotations on the workload itself: the injector reads only the pod template's";
        }

        var annotations = w.PodAnnotations();
        if (w.Annotation("dapr.io/enabled") != "true")
        {
            yield return "dapr.io/enabled is not \"true\"";
        }

        foreach (var key in annotations.Select(kv => kv.Key).Where(k => k.StartsWith("dapr.io/", StringComparison.Ordinal) && !DaprAnnotations.Contains(k)))
        {
            yield return $"'{key}' is not an annotation Dapr's injector reads";
        }

        var grace = (int?)w.PodTemplate()["spec"]?["terminationGracePeriodSeconds"] ?? 30;
        if (int.TryParse(w.Annotation("dapr.io/graceful-shutdown-seconds"), out var shutdown) && shutdown > grace)
        {
            yield return $"graceful-shutdown-seconds {shutdown} exceeds terminationGracePeriodSeconds {grace}";
        }

        var container = w.AppContainer();
        foreach (var probe in new[] { "livenessProbe", "readinessProbe" }.Where(p => container[p] is null))
        {
            yield return $"no {probe}";
        }

        foreach (var resource in new[] { "requests", "limits" }.Where(r => container["resources"]?[r] is not JsonObject { Count: > 0 }))
        {
            yield return $"no resource {resource}";
        }
    }

    private static HashSet<string> LoadDaprAnnotations()
    {
        var json = JsonNode.Parse(File.ReadAllText(Repo.Schemas("dapr-sidecar-annotations.json")))!;
        return [.. json["annotations"]!.AsObject().Select(kv => kv.Key)];
    }
}
