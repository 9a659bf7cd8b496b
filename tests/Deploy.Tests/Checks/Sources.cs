using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// Everything the consistency check compares, loaded into memory: tye.yaml, dapr.yaml, components/*/ and the rendered
/// overlays. Each load is a fresh copy, so a test can break one (to prove the check notices) without touching files.
/// </summary>
public sealed record Sources(
    JsonObject Tye,
    JsonObject DaprRun,
    Dictionary<string, List<JsonObject>> Components,
    Dictionary<string, List<JsonObject>> Overlays,
    IReadOnlySet<string> NotYetInTye)
{
    public static Sources Load() => new(
        Yaml.ParseFile(Repo.Path("tye.yaml")),
        Yaml.ParseFile(Repo.Path("dapr.yaml")),
        Directory.GetDirectories(Repo.Path("components")).Order().ToDictionary(
            d => Path.GetFileName(d),
            d => Directory.GetFiles(d, "*.yaml").Order().SelectMany(f => Yaml.ParseAll(File.ReadAllText(f))).ToList()),
        Kustomize.Overlays.ToDictionary(b => b, b => Kustomize.Overlay(b).ToList()),
        Contract.NotYetInTye);
}
