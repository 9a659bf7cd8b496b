using System.Text.Json.Nodes;

namespace Platform.Deploy.Tests.Infrastructure;

/// <summary>Small readers over rendered objects, so checks read like the manifests.</summary>
public static class Manifest
{
    public static string Kind(this JsonObject o) => (string?)o["kind"] ?? "";

    public static string ApiVersion(this JsonObject o) => (string?)o["apiVersion"] ?? "";

    public static string Name(this JsonObject o) => (string?)o["metadata"]?["name"] ?? "";

    public static string Id(this JsonObject o) => $"{o.Kind()}/{o.Name()}";

    public static bool IsWorkload(this JsonObject o) => o.Kind() is "Deployment" or "StatefulSet";

    public static IEnumerable<JsonObject> OfKind(this IEnumerable<JsonObject> objects, string kind) => objects.Where(o => o.Kind() == kind);

    public static JsonObject Single(this IEnumerable<JsonObject> objects, string kind, string name) =>
        objects.SingleOrDefault(o => o.Kind() == kind && o.Name() == name) ?? throw new InvalidOperationException($"no {kind}/{name}");

    public static JsonObject PodTemplate(this JsonObject workload) => (JsonObject)workload["spec"]!["template"]!;

    public static JsonObject PodAnnotations(this JsonObject workload) =>
        workload.PodTemplate()["metadata"]?["annotations"] as JsonObject ?? [];

    public static string? Annotation(this JsonObject workload, string key) => (string?)workload.PodAnnotations()[key];

    public static JsonObject AppContainer(this JsonObject workload) =>
        (JsonObject)workload.PodTemplate()["spec"]!["containers"]!.AsArray().Single()!;

    public static IEnumerable<JsonObject> Objects(this JsonNode? node) => node?.AsArray().OfType<JsonObject>() ?? [];

    public static IEnumerable<string> Strings(this JsonNode? node) =>
        node?.AsArray().Select(n => (string?)n).OfType<string>() ?? [];

    /// <summary>A Component's <c>spec.metadata</c> as name → item.</summary>
    public static IEnumerable<JsonObject> ComponentMetadata(this JsonObject component) => component["spec"]?["metadata"].Objects() ?? [];

    public static string? MetadataValue(this JsonObject component, string name) =>
        component.ComponentMetadata().FirstOrDefault(m => string.Equals((string?)m["name"], name, StringComparison.OrdinalIgnoreCase))?["value"]?.ToString();
}
