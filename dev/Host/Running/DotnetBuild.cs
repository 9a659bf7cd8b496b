using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;
using Platform.Host.Topology;

namespace Platform.Host.Running;

/// <summary>
/// Builds the services once before anything starts (a replica never builds: N replicas building the same
/// project at once would fight over obj/), and finds each project's built DLL so replicas start with
/// <c>dotnet &lt;dll&gt;</c> — one process per replica, which is what gets signalled and killed (<c>dotnet run</c>
/// would leave the app orphaned when it is killed).
/// </summary>
internal sealed class DotnetBuild(Terminal terminal, string configuration)
{
    /// <summary>The <c>dotnet</c> executable: the one running this host when started as <c>dotnet Platform.Host.dll</c>.</summary>
    public static string Dotnet { get; } =
        Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    /// <summary>Builds the solution named in tye.yaml, else each project; false (after showing why) on failure.</summary>
    public async Task<bool> BuildAsync(TyeApplication app, CancellationToken ct)
    {
        var targets = app.Solution is { } solution
            ? [app.Resolve(solution)]
            : app.Services.Where(s => s.Kind == ServiceKind.Project && s.Build && s.Replicas > 0).Select(s => app.Resolve(s.Path)).Distinct().ToList();
        foreach (var target in targets)
        {
            var shown = Path.GetRelativePath(app.Directory, target);
            terminal.Host($"building {shown} ({configuration})");
            var clock = Stopwatch.StartNew();
            var (exitCode, output) = await RunAsync(["build", target, "-c", configuration, "-nologo", "-v:quiet"], app.Directory, ct);
            if (exitCode != 0)
            {
                terminal.Host($"build of {shown} failed (exit code {exitCode}):");
                terminal.Block(output.Where(l => l.Length > 0).TakeLast(60).Select(l => "    " + l));
                return false;
            }

            terminal.Host(string.Create(CultureInfo.InvariantCulture, $"built {shown} in {clock.Elapsed.TotalSeconds:0.0} s"));
        }

        return true;
    }

    /// <summary>
    /// The DLL a build of <paramref name="projectPath"/> produced: <c>bin/&lt;configuration&gt;/&lt;tfm&gt;/&lt;AssemblyName&gt;.dll</c>
    /// next to its runtimeconfig.json; when that guess finds nothing, MSBuild is asked for TargetPath.
    /// </summary>
    public async Task<string?> FindTargetAsync(string projectPath, CancellationToken ct)
    {
        var assemblyName = AssemblyNameOf(projectPath);
        var bin = Path.Combine(Path.GetDirectoryName(projectPath)!, "bin", configuration);
        if (Directory.Exists(bin))
        {
            var candidates = Directory.EnumerateFiles(bin, assemblyName + ".runtimeconfig.json", SearchOption.AllDirectories)
                .Select(f => Path.Combine(Path.GetDirectoryName(f)!, assemblyName + ".dll"))
                .Where(File.Exists)
                .OrderByDescending(File.GetLastWriteTimeUtc)
                .ToList();
            if (candidates.Count > 0)
            {
                return candidates[0];
            }
        }

        var (exitCode, output) = await RunAsync(["msbuild", projectPath, "-getProperty:TargetPath", $"-p:Configuration={configuration}", "-nologo"], Path.GetDirectoryName(projectPath)!, ct);
        var path = output.Select(l => l.Trim()).LastOrDefault(l => l.EndsWith(".dll", StringComparison.OrdinalIgnoreCase));
        return exitCode == 0 && path is not null && File.Exists(path) ? path : null;
    }

    private static string AssemblyNameOf(string projectPath)
    {
        try
        {
            var name = XDocument.Load(projectPath).Descendants().FirstOrDefault(e => e.Name.LocalName == "AssemblyName")?.Value.Trim();
            if (name is { Length: > 0 } && !name.Contains("$(", StringComparison.Ordinal))
            {
                return name;
            }
        }
        catch (System.Xml.XmlException)
        {
            // MSBuild will say what is wrong with the file.
        }

        return Path.GetFileNameWithoutExtension(projectPath);
    }

    // No long-lived MSBuild server or nodes: they would outlive the host (and hold its output pipes open).
    private static readonly Dictionary<string, string> NoLingeringNodes = new()
    {
        ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
        ["MSBUILDDISABLENODEREUSE"] = "1",
    };

    private static Task<(int ExitCode, List<string> Output)> RunAsync(IEnumerable<string> args, string workingDirectory, CancellationToken ct) =>
        BuildProcess.RunAsync(Dotnet, args, workingDirectory, NoLingeringNodes, ct);
}
