using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Platform.Deploy.Tests.Infrastructure;

/// <summary>
/// <c>kubectl kustomize</c> (kustomize built into kubectl: offline, no cluster). Each directory is rendered once per
/// test run; callers get their own deep copy, so a test that mutates what it got cannot disturb another.
/// </summary>
public static class Kustomize
{
    /// <summary>The deployable overlays, by broker.</summary>
    public static readonly string[] Overlays = ["redis", "kafka", "pulsar"];

    private static readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<JsonObject>>> Rendered = new();

    /// <summary>Renders <c>deploy/k8s/&lt;relative&gt;</c>, e.g. <c>base</c> or <c>overlays/kafka</c>.</summary>
    public static IReadOnlyList<JsonObject> Render(string relative) =>
        [.. Rendered.GetOrAdd(relative, r => new Lazy<IReadOnlyList<JsonObject>>(() => Yaml.ParseAll(Run(r))))
            .Value.Select(o => (JsonObject)o.DeepClone())];

    public static IReadOnlyList<JsonObject> Overlay(string broker) => Render($"overlays/{broker}");

    private static string Run(string relative)
    {
        var dir = Repo.Path("deploy", "k8s", relative);
        var start = new ProcessStartInfo("kubectl", ["kustomize", dir])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("kubectl is needed to render the manifests (it bundles kustomize): install kubectl 1.27+", e);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"kubectl kustomize {dir} failed ({process.ExitCode}): {stderr.Result}");
            }

            return stdout;
        }
    }
}
