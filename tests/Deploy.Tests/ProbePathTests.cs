using System.Text.RegularExpressions;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>
/// Every path the manifests probe (startup, liveness, readiness, and daprd's app health check) is one the app maps,
/// and every app listens on the pod's address: a probe of a path the app does not map, or of an app listening on
/// loopback only, keeps its pod from ever becoming ready.
/// </summary>
public sealed partial class ProbePathTests
{
    /// <summary>Where each app's code is (Live's two roles are one project).</summary>
    private static readonly Dictionary<string, string> Sources = new()
    {
        ["ledger"] = "services/Ledger",
        ["balances"] = "services/Balances",
        ["fraud"] = "services/fraud/src",
        ["hello"] = "services/Hello",
        ["solver"] = "services/Solver",
        ["routing"] = "services/Routing",
        ["live-leader"] = "services/Live",
        ["live"] = "services/Live",
    };

    public static TheoryData<string> Brokers => [.. Kustomize.Overlays];

    [Theory]
    [MemberData(nameof(Brokers))]
    public void Probes_EveryPathProbed_IsMappedByThatApp(string broker)
    {
        var problems = new List<string>();
        foreach (var workload in Kustomize.Overlay(broker).Where(o => o.IsWorkload()))
        {
            var appId = workload.Annotation("dapr.io/app-id")!;
            Assert.True(Sources.ContainsKey(appId), $"{workload.Id()}: app '{appId}' has no source folder in ProbePathTests.Sources");
            var mapped = MappedPaths(Repo.Path(Sources[appId]));
            foreach (var path in ProbedPaths(workload).Where(p => !mapped.Contains(p)))
            {
                problems.Add($"{workload.Id()} probes {path}, which {Sources[appId]} does not map");
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void MappedPaths_AppWithoutServiceDefaults_LacksAlive()
    {
        var dir = Directory.CreateTempSubdirectory("probes-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "Program.cs"), "var app = WebApplication.CreateBuilder(args).Build();\napp.MapHealthChecks(\"/health\");\napp.Run();\n");

            var mapped = MappedPaths(dir.FullName);

            Assert.Contains("/health", mapped);
            Assert.DoesNotContain("/alive", mapped);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public void Workloads_ListenOnThePodAddress(string broker)
    {
        foreach (var workload in Kustomize.Overlay(broker).Where(o => o.IsWorkload()))
        {
            var env = workload.AppContainer()["env"].Objects().ToDictionary(e => (string)e["name"]!, e => e["value"]?.ToString(), StringComparer.Ordinal);
            // ASPNETCORE_HTTP_PORTS binds every address (http://*:port); fraud listens where APP_HOST says (loopback by default).
            var everyAddress = env.ContainsKey("ASPNETCORE_HTTP_PORTS")
                || (env.TryGetValue("ASPNETCORE_URLS", out var urls) && urls is not null && AnyHost().IsMatch(urls))
                || env.GetValueOrDefault("APP_HOST") is "0.0.0.0" or "::";
            Assert.True(everyAddress, $"{workload.Id()}: the app would listen on loopback only, where the kubelet's probes cannot reach it");
        }
    }

    private static IEnumerable<string> ProbedPaths(System.Text.Json.Nodes.JsonObject workload)
    {
        if (workload.Annotation("dapr.io/app-health-check-path") is { } daprPath)
        {
            yield return daprPath;
        }

        foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            if ((string?)workload.AppContainer()[probe]?["httpGet"]?["path"] is { } path)
            {
                yield return path;
            }
        }
    }

    /// <summary>
    /// The paths an app's code maps: <c>/health</c> and <c>/alive</c> where it calls ServiceDefaults'
    /// <c>MapDefaultEndpoints</c>, and every literal path given to <c>MapGet</c>/<c>MapHealthChecks</c> (C#) or
    /// <c>app.get</c> (express).
    /// </summary>
    private static HashSet<string> MappedPaths(string folder)
    {
        var mapped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
            .Where(f => (f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".ts", StringComparison.Ordinal))
                && !f.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj" or "node_modules" or "dist")))
        {
            var text = File.ReadAllText(file);
            if (text.Contains(".MapDefaultEndpoints()", StringComparison.Ordinal))
            {
                mapped.UnionWith(["/health", "/alive"]);
            }

            mapped.UnionWith(MappedLiteral().Matches(text).Select(m => m.Groups[1].Value));
        }

        return mapped;
    }

    [GeneratedRegex(@"(?:\.MapGet|\.MapHealthChecks|\bapp\.get)\(\s*""(/[^""]*)""")]
    private static partial Regex MappedLiteral();

    [GeneratedRegex(@"//(\*|\+|0\.0\.0\.0|\[::\])[:/]")]
    private static partial Regex AnyHost();
}
