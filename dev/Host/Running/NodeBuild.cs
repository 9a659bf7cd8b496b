using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Platform.Host.Topology;

namespace Platform.Host.Running;

/// <summary>
/// The build step for executable services that are Node packages (a <c>package.json</c> in the working
/// directory, like <c>services/fraud</c>): <c>npm ci</c> when <c>node_modules</c> is missing or older than
/// <c>package-lock.json</c>, then <c>npm run build</c> when the package has a build script. Tye builds only
/// projects; this is the step a user of <c>tye run</c> does by hand (see the comment in tye.yaml).
/// </summary>
internal sealed class NodeBuild(Terminal terminal)
{
    public async Task<bool> BuildAsync(TyeApplication app, CancellationToken ct)
    {
        var folders = app.Services
            .Where(s => s.Kind == ServiceKind.Executable && s.Build && s.Replicas > 0)
            .Select(s => app.Resolve(s.WorkingDirectory ?? "."))
            .Where(d => File.Exists(Path.Combine(d, "package.json")))
            .Distinct()
            .ToList();
        foreach (var folder in folders)
        {
            var shown = Path.GetRelativePath(app.Directory, folder);
            if (NeedsInstall(folder) && !await StepAsync(shown, folder, ["ci", "--no-audit", "--no-fund"], ct))
            {
                return false;
            }

            if (HasScript(folder, "build") && !await StepAsync(shown, folder, ["run", "build"], ct))
            {
                return false;
            }
        }

        return true;
    }

    private static bool NeedsInstall(string folder)
    {
        var modules = Path.Combine(folder, "node_modules");
        var lockFile = Path.Combine(folder, "package-lock.json");
        return !Directory.Exists(modules)
            || (File.Exists(lockFile) && File.GetLastWriteTimeUtc(lockFile) > Directory.GetLastWriteTimeUtc(modules));
    }

    private static bool HasScript(string folder, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "package.json")));
        return doc.RootElement.TryGetProperty("scripts", out var scripts)
            && scripts.ValueKind == JsonValueKind.Object
            && scripts.TryGetProperty(name, out _);
    }

    private async Task<bool> StepAsync(string shown, string folder, string[] args, CancellationToken ct)
    {
        var command = "npm " + string.Join(' ', args);
        terminal.Host($"{command} in {shown}");
        var clock = Stopwatch.StartNew();
        int exitCode;
        List<string> output;
        try
        {
            (exitCode, output) = await BuildProcess.RunAsync("npm", args, folder, env: null, ct);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            terminal.Host($"{shown} is a Node package but npm was not found: install Node.js 20+ (it brings npm)");
            return false;
        }

        if (exitCode != 0)
        {
            terminal.Host($"{command} in {shown} failed (exit code {exitCode}):");
            terminal.Block(output.Where(l => l.Length > 0).TakeLast(40).Select(l => "    " + l));
            return false;
        }

        terminal.Host(string.Create(CultureInfo.InvariantCulture, $"{command} in {shown} done in {clock.Elapsed.TotalSeconds:0.0} s"));
        return true;
    }
}
