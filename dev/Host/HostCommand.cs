using Platform.Host.Running;
using Platform.Host.Topology;

namespace Platform.Host;

/// <summary>From the command line to a running platform: read tye.yaml, check what it needs, build, run.</summary>
internal static class HostCommand
{
    public const int Stopped = 0;
    public const int Failed = 1;
    public const int BadInput = 2;

    public static async Task<int> RunAsync(HostOptions options, Terminal terminal, CancellationToken stop, CancellationToken hurry)
    {
        var tyePath = options.File is { } file ? Path.GetFullPath(file) : FindUpwards("tye.yaml");
        if (tyePath is null || !File.Exists(tyePath))
        {
            terminal.Host($"no tye.yaml {(options.File is null ? "in this folder or a parent" : $"at {tyePath}")}; pass one with --file");
            return BadInput;
        }

        if (options.Check)
        {
            return Check(tyePath, terminal);
        }

        TyeApplication app;
        try
        {
            app = TyeFile.Load(tyePath);
        }
        catch (TyeFileException e)
        {
            terminal.Host($"{tyePath} cannot be run:");
            terminal.Block(e.Problems.Select(p => "    " + p));
            return BadInput;
        }

        // The components every sidecar gets: components/local (in-memory) next to tye.yaml unless --components says
        // otherwise. tye.yaml's components-path is what `tye run` uses (a generated solution names its broker's
        // folder there, which may need Kafka, Pulsar or Redis): the host reads it only with --components tye.
        var choice = options.Components ?? HostOptions.DefaultComponents;
        string? chosenFolder = null;
        var sidecars = app.Services.Any(s => s.Replicas > 0 && app.DaprFor(s) is not null);
        if (sidecars && choice != HostOptions.TyeComponents)
        {
            chosenFolder = ComponentsFolder(choice, app);
            if (chosenFolder is null)
            {
                terminal.Host(options.Components is null
                    ? $"no components/local next to {tyePath} (dev/Host's default, in-memory); {ChooseComponents}"
                    : $"--components '{choice}' names no folder (neither components/{choice} next to tye.yaml nor '{choice}' from here); {ChooseComponents}");
                return BadInput;
            }
        }

        var plans = new List<ServicePlan>();
        var colour = 0;
        foreach (var service in app.Services.Where(s => s.Replicas > 0))
        {
            var dapr = app.DaprFor(service);
            if (dapr is not null)
            {
                dapr = dapr with { ComponentsPath = chosenFolder ?? dapr.ComponentsPath ?? app.Resolve("components/local") };
                if (!Directory.Exists(dapr.ComponentsPath))
                {
                    terminal.Host($"components folder {dapr.ComponentsPath} (for {service.Name}, from tye.yaml's components-path) does not exist; {ChooseComponents}");
                    return BadInput;
                }

                if (dapr.ConfigPath is { } config && !File.Exists(config))
                {
                    // As Tye does: a config named but not found is skipped with a message.
                    terminal.Host($"could not find dapr config '{config}'; {service.Name} runs without it");
                    dapr = dapr with { ConfigPath = null };
                }
            }

            plans.Add(new ServicePlan(service, Terminal.ColorOf(colour++), dapr, "", [], ""));
        }

        var folders = plans.Select(p => p.Dapr?.ComponentsPath).OfType<string>().Select(Path.TrimEndingDirectorySeparator).Distinct().ToList();
        terminal.Host($"{tyePath}: {plans.Count} service(s), {plans.Sum(p => p.Service.Replicas)} replica(s); components: {string.Join(", ", folders.Select(f => Shown(app, f)))}");
        if (sidecars)
        {
            terminal.Host(ComponentsNote(app, options.Components, chosenFolder));
        }

        foreach (var endpoint in folders.SelectMany(RedisCheck.Find).DistinctBy(e => (e.Host, e.Port)))
        {
            if (!await RedisCheck.ReachableAsync(endpoint))
            {
                terminal.Block(RedisCheck.HowToStart(endpoint, Shown(app, Path.GetDirectoryName(endpoint.File)!)).Select(l => "[host] " + l));
                return Failed;
            }
        }

        var build = new DotnetBuild(terminal, options.Configuration);
        if (!options.NoBuild && (!await build.BuildAsync(app, stop) || !await new NodeBuild(terminal).BuildAsync(app, stop)))
        {
            terminal.Host("the build failed: nothing was started");
            return Failed;
        }

        for (var i = 0; i < plans.Count; i++)
        {
            var service = plans[i].Service;
            IReadOnlyList<string> args;
            try
            {
                args = Arguments.Split(service.Args);
            }
            catch (FormatException e)
            {
                terminal.Host($"service {service.Name}: {e.Message}");
                return BadInput;
            }

            if (service.Kind == ServiceKind.Project)
            {
                var project = app.Resolve(service.Path);
                if (!File.Exists(project))
                {
                    terminal.Host($"service {service.Name}: project {project} does not exist");
                    return BadInput;
                }

                var dll = await build.FindTargetAsync(project, stop);
                if (dll is null)
                {
                    terminal.Host($"service {service.Name}: {service.Path} has no {options.Configuration} build{(options.NoBuild ? "; run without --no-build" : "")}");
                    return Failed;
                }

                plans[i] = plans[i] with { FileName = DotnetBuild.Dotnet, Args = [dll, .. args], WorkingDirectory = Path.GetDirectoryName(project)! };
            }
            else
            {
                var executable = service.Path.Contains('/', StringComparison.Ordinal) || service.Path.Contains('\\', StringComparison.Ordinal)
                    ? app.Resolve(service.Path)
                    : service.Path;
                plans[i] = plans[i] with { FileName = executable, Args = args, WorkingDirectory = app.Resolve(service.WorkingDirectory ?? ".") };
            }
        }

        // One registry folder per run: these sidecars find each other (and share the in-memory bus), and no others.
        var registry = Directory.CreateTempSubdirectory("platform-host-");
        try
        {
            return await new Supervisor(terminal, registry.FullName, options.StopTimeout).RunAsync(plans, stop, hurry);
        }
        finally
        {
            try
            {
                registry.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left in the temp folder; nothing reads it once this run is over.
            }
        }
    }

    private static int Check(string tyePath, Terminal terminal)
    {
        var daprPath = Path.Combine(Path.GetDirectoryName(tyePath)!, "dapr.yaml");
        var problems = new List<string>();
        problems.AddRange(TyeKeys.Check(File.ReadAllText(tyePath), Path.GetFileName(tyePath)).Select(p => p.ToString()));
        if (!File.Exists(daprPath))
        {
            problems.Add($"no dapr.yaml next to {tyePath}");
        }
        else if (problems.Count == 0)
        {
            problems.AddRange(TopologyCheck.CheckFiles(tyePath, daprPath));
        }

        if (problems.Count == 0)
        {
            terminal.Host($"{tyePath} uses only keys Tye's parser accepts, and dapr.yaml describes the same apps");
            return Stopped;
        }

        terminal.Host($"{problems.Count} problem(s):");
        terminal.Block(problems.Select(p => "    " + p));
        return Failed;
    }

    /// <summary>A path relative to tye.yaml's folder when it is inside it, else in full.</summary>
    private static string Shown(TyeApplication app, string path)
    {
        var relative = Path.GetRelativePath(app.Directory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    private const string ChooseComponents = "choose with --components local|redis|<name under components/>|tye (tye.yaml's components-path)|<folder>";

    /// <summary>
    /// The folder a <c>--components</c> value names: <c>components/&lt;value&gt;</c> next to tye.yaml when there is
    /// one (local, redis, kafka, pulsar), else the value as a path from the current folder; null when neither exists.
    /// </summary>
    private static string? ComponentsFolder(string value, TyeApplication app)
    {
        if (value.Length == 0)
        {
            return null;
        }

        if (value.IndexOfAny(['/', '\\']) < 0 && value is not ("." or ".."))
        {
            var named = app.Resolve(Path.Combine("components", value));
            if (Directory.Exists(named))
            {
                return named;
            }
        }

        var path = Path.GetFullPath(value);
        return Directory.Exists(path) ? path : null;
    }

    /// <summary>The line that says where the components come from and how to choose others.</summary>
    private static string ComponentsNote(TyeApplication app, string? option, string? chosen)
    {
        if (option == HostOptions.TyeComponents)
        {
            return "components from tye.yaml's components-path (--components tye); without it dev/Host runs on components/local (in-memory)";
        }

        var named = app.Dapr.ComponentsPath is { } path ? Path.TrimEndingDirectorySeparator(app.Resolve(path)) : null;
        var fromTye = named is not null && chosen is not null && named != Path.TrimEndingDirectorySeparator(chosen)
            ? $"; tye.yaml names {Shown(app, named)} (what tye run uses)"
            : "";
        return option is null
            ? $"components/local (in-memory) is dev/Host's default{fromTye}; {ChooseComponents}"
            : $"components chosen with --components {option}{fromTye}";
    }

    private static string? FindUpwards(string name)
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
