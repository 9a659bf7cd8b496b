namespace Platform.Host.Topology;

/// <summary>
/// Checks that tye.yaml and dapr.yaml describe the same platform: the same app-ids, each built from the same
/// folder, listening on the same port, with the same components, config and concurrency cap. Whoever adds a
/// service to one file and forgets the other is told which key differs.
/// </summary>
public static class TopologyCheck
{
    /// <summary>Loads both files and compares them; problems in either file are reported the same way.</summary>
    public static IReadOnlyList<string> CheckFiles(string tyePath, string daprPath)
    {
        try
        {
            return Compare(TyeFile.Load(tyePath), DaprRunFileReader.Load(daprPath));
        }
        catch (TyeFileException e)
        {
            return [.. e.Problems.Select(p => p.ToString())];
        }
    }

    public static IReadOnlyList<string> Compare(TyeApplication tye, DaprRunFile dapr)
    {
        var problems = new List<string>();
        var tyeName = Path.GetFileName(tye.FilePath);
        var daprName = Path.GetFileName(dapr.FilePath);
        var apps = dapr.Apps.ToLookup(a => a.AppId, StringComparer.Ordinal);
        foreach (var duplicate in apps.Where(g => g.Count() > 1))
        {
            problems.Add($"{daprName}: appID '{duplicate.Key}' is listed {duplicate.Count()} times");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in tye.Services.Where(s => s.Replicas > 0))
        {
            if (tye.DaprFor(service) is not { } run)
            {
                continue;
            }

            seen.Add(run.AppId);
            var app = apps[run.AppId].FirstOrDefault();
            if (app is null)
            {
                problems.Add($"app-id '{run.AppId}' (service '{service.Name}') is in {tyeName} but not in {daprName}");
                continue;
            }

            var where = $"app-id '{run.AppId}'";
            var folder = service.Kind == ServiceKind.Project
                ? Path.GetDirectoryName(tye.Resolve(service.Path))!
                : tye.Resolve(service.WorkingDirectory ?? ".");
            if (!SamePath(folder, app.AppDirPath))
            {
                problems.Add($"{where}: {tyeName} builds it in '{Relative(tye, folder)}' but {daprName} appDirPath is '{Relative(tye, app.AppDirPath)}'");
            }

            if (service.HttpPort != app.AppPort)
            {
                problems.Add($"{where}: {tyeName} http binding port is {Show(service.HttpPort)} but {daprName} appPort is {Show(app.AppPort)}");
            }

            // A dotnet app is told its port on the command line; any other command gets it from APP_PORT, which
            // the Dapr CLI sets for the app (as dev/Host does).
            if (app.AppPort is { } port && app.Command.FirstOrDefault() == "dotnet" && !app.Command.Any(a => a.Contains($":{port}", StringComparison.Ordinal)))
            {
                problems.Add($"{where}: {daprName} command does not make the app listen on appPort {port} (e.g. \"--urls\", \"http://localhost:{port}\")");
            }

            if (app.Command.Count == 0)
            {
                problems.Add($"{where}: {daprName} has no command to start it");
            }

            var tyeComponents = run.ComponentsPath is null ? [] : new[] { run.ComponentsPath };
            var daprComponents = app.Own.ResourcesPaths ?? dapr.Common.ResourcesPaths ?? [];
            if (tyeComponents.Length != daprComponents.Count || !tyeComponents.Zip(daprComponents).All(p => SamePath(p.First, p.Second)))
            {
                problems.Add($"{where}: {tyeName} components-path is {Paths(tye, tyeComponents)} but {daprName} resourcesPaths is {Paths(tye, daprComponents)}");
            }

            var daprConfig = app.Own.ConfigFilePath ?? dapr.Common.ConfigFilePath;
            if (!SamePath(run.ConfigPath, daprConfig))
            {
                problems.Add($"{where}: {tyeName} config is {Paths(tye, run.ConfigPath is null ? [] : [run.ConfigPath])} but {daprName} configFilePath is {Paths(tye, daprConfig is null ? [] : [daprConfig])}");
            }

            var daprMax = app.Own.AppMaxConcurrency ?? dapr.Common.AppMaxConcurrency;
            if (Unlimited(run.AppMaxConcurrency) != Unlimited(daprMax))
            {
                problems.Add($"{where}: {tyeName} app-max-concurrency is {Show(run.AppMaxConcurrency)} but {daprName} appMaxConcurrency is {Show(daprMax)}");
            }
        }

        foreach (var app in dapr.Apps.Where(a => !seen.Contains(a.AppId)))
        {
            problems.Add($"appID '{app.AppId}' ({daprName} line {app.Line}) is in {daprName} but not in {tyeName}");
        }

        foreach (var clash in dapr.Apps
            .SelectMany(a => new[] { (a.AppId, Key: "appPort", Port: a.AppPort), (a.AppId, Key: "daprHTTPPort", Port: a.DaprHttpPort), (a.AppId, Key: "daprGRPCPort", Port: a.DaprGrpcPort) })
            .Where(p => p.Port is not null)
            .GroupBy(p => p.Port)
            .Where(g => g.Count() > 1))
        {
            problems.Add($"{daprName}: port {clash.Key} is used by {string.Join(" and ", clash.Select(c => $"{c.AppId} {c.Key}"))}");
        }

        return problems;
    }

    private static int? Unlimited(int? max) => max is null or -1 ? null : max;

    private static bool SamePath(string? a, string? b) =>
        a is null || b is null
            ? a is null && b is null
            : string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);

    private static string Relative(TyeApplication tye, string path) => Path.GetRelativePath(tye.Directory, Path.TrimEndingDirectorySeparator(path));

    private static string Paths(TyeApplication tye, IEnumerable<string> paths) =>
        paths.Any() ? $"[{string.Join(", ", paths.Select(p => Relative(tye, p)))}]" : "not set";

    private static string Show(int? value) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "not set";
}
