using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Platform.Host.Topology;

/// <summary>tye.yaml as dev/Host runs it.</summary>
public sealed record TyeApplication(string FilePath, string? Name, string? Solution, IReadOnlyList<TyeService> Services, DaprSettings Dapr)
{
    /// <summary>The folder relative paths in the file resolve against.</summary>
    public string Directory => Path.GetDirectoryName(FilePath)!;

    public string Resolve(string path) => Path.GetFullPath(Path.Combine(Directory, path));

    /// <summary>The sidecar settings of one service, its own values before the extension's.</summary>
    public DaprRun? DaprFor(TyeService service)
    {
        if (!Dapr.Enabled)
        {
            return null;
        }

        var own = Dapr.Services.GetValueOrDefault(service.Name) ?? new DaprServiceSettings();
        if (own.Enabled == false || (own.Enabled is null && !service.ListensForHttp))
        {
            // As Tye's Dapr extension: a service without an HTTP binding gets no sidecar unless enabled explicitly.
            return null;
        }

        var components = own.ComponentsPath ?? Dapr.ComponentsPath;
        var config = own.Config ?? Dapr.Config;
        return new DaprRun(
            own.AppId ?? service.Name,
            components is null ? null : Resolve(components),
            // Tye passes "--config <components-path or ./components>/<config>.yaml".
            config is null ? null : Path.Combine(components is null ? Resolve("components") : Resolve(components), config + ".yaml"),
            own.AppMaxConcurrency ?? Dapr.AppMaxConcurrency,
            own.LogLevel ?? Dapr.LogLevel);
    }
}

public enum ServiceKind
{
    Project,
    Executable,
}

public sealed record TyeService
{
    public required string Name { get; init; }

    public required ServiceKind Kind { get; init; }

    /// <summary>The project file, or the executable, as written.</summary>
    public required string Path { get; init; }

    public string? WorkingDirectory { get; init; }

    /// <summary>One string, split like a shell would (Tye's <c>args</c>).</summary>
    public string? Args { get; init; }

    public int Replicas { get; init; } = 1;

    /// <summary><c>build: false</c> leaves a project out of the build.</summary>
    public bool Build { get; init; } = true;

    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];

    public IReadOnlyList<TyeBinding> Bindings { get; init; } = [];

    /// <summary>A project is an ASP.NET Core app (Tye infers its http binding); an executable listens if it declares a binding.</summary>
    public bool ListensForHttp => Kind == ServiceKind.Project || Bindings.Count > 0;

    /// <summary>The port <c>tye run</c> and <c>dapr run</c> use (dev/Host picks free ports instead).</summary>
    public int? HttpPort => (Bindings.FirstOrDefault(b => b.Protocol is "http") ?? (Bindings.Count == 1 && Bindings[0].Protocol is null ? Bindings[0] : null))?.Port;
}

public sealed record TyeBinding(string? Name, int? Port, string? Protocol);

public sealed record DaprSettings
{
    /// <summary>Whether the file has a <c>dapr</c> extension at all.</summary>
    public bool Enabled { get; init; }

    public string? ComponentsPath { get; init; }

    public string? Config { get; init; }

    public int? AppMaxConcurrency { get; init; }

    public string? LogLevel { get; init; }

    public IReadOnlyDictionary<string, DaprServiceSettings> Services { get; init; } = new Dictionary<string, DaprServiceSettings>();
}

public sealed record DaprServiceSettings
{
    public string? AppId { get; init; }

    public bool? Enabled { get; init; }

    public string? ComponentsPath { get; init; }

    public string? Config { get; init; }

    public int? AppMaxConcurrency { get; init; }

    public string? LogLevel { get; init; }
}

/// <summary>How one service's sidecars run: resolved paths, the service's values before the extension's.</summary>
public sealed record DaprRun(string AppId, string? ComponentsPath, string? ConfigPath, int? AppMaxConcurrency, string? LogLevel);

public sealed class TyeFileException(IReadOnlyList<YamlProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<YamlProblem> Problems { get; } = problems;
}

/// <summary>
/// Reads tye.yaml strictly: a key Tye's parser would reject is an error (as in Tye), and so is a key Tye
/// accepts but dev/Host cannot honour (containers, ingress, probes…) — silently ignoring it would run
/// something other than what the file says.
/// </summary>
public static class TyeFile
{
    // Root keys that only matter for containers or deployment: they change nothing in a local run.
    private static readonly HashSet<string> IgnoredRootKeys = ["namespace", "network", "registry", "containerEngine", "dashboardPort"];

    private static readonly Dictionary<string, string> UnsupportedServiceKeys = new(StringComparer.Ordinal)
    {
        ["image"] = "container services need Docker",
        ["dockerFile"] = "container services need Docker",
        ["dockerFileArgs"] = "container services need Docker",
        ["dockerFileContext"] = "container services need Docker",
        ["volumes"] = "volumes are for container services",
        ["external"] = "external services are not started, so there is nothing to run",
        ["include"] = "include (another tye.yaml) is not supported",
        ["repository"] = "repository (clone and run) is not supported",
        ["cloneDirectory"] = "repository (clone and run) is not supported",
        ["azureFunction"] = "Azure Functions are not supported",
        ["pathToFunc"] = "Azure Functions are not supported",
        ["buildProperties"] = "build properties are not supported",
        ["liveness"] = "probes are not supported (a replica is up once its port answers and its sidecar is ready)",
        ["readiness"] = "probes are not supported (a replica is up once its port answers and its sidecar is ready)",
    };

    // Tye Dapr-extension keys with no meaning for the in-process sidecar; refusing them beats pretending.
    private static readonly Dictionary<string, string> UnsupportedDaprKeys = new(StringComparer.Ordinal)
    {
        ["app-protocol"] = "the sidecar talks HTTP to apps",
        ["app-ssl"] = "the sidecar talks plain HTTP to apps",
        ["enable-profiling"] = "the sidecar has no profiling endpoint",
        ["http-max-request-size"] = "not supported (and removed from the Dapr CLI in 1.15)",
        ["placement-port"] = "there is no placement service",
        ["grpc-port"] = "sidecar ports are picked free for every replica",
        ["http-port"] = "sidecar ports are picked free for every replica",
        ["metrics-port"] = "the sidecar has no metrics endpoint",
        ["profile-port"] = "the sidecar has no profiling endpoint",
    };

    public static TyeApplication Load(string path)
    {
        var full = Path.GetFullPath(path);
        return Parse(File.ReadAllText(full), full);
    }

    public static TyeApplication Parse(string yaml, string filePath)
    {
        var file = Path.GetFileName(filePath);
        var tyeProblems = TyeKeys.Check(yaml, file);
        if (tyeProblems.Count > 0)
        {
            throw new TyeFileException(tyeProblems);
        }

        var problems = new List<YamlProblem>();
        var root = ShapeChecker.Load(yaml, file, problems) as YamlMappingNode
            ?? throw new TyeFileException([new YamlProblem(file, 1, 1, "the top level must be a mapping")]);
        var reader = new Reader(file, problems);
        var directory = Path.GetDirectoryName(Path.GetFullPath(filePath))!;

        string? name = null, solution = null;
        var services = new List<TyeService>();
        var dapr = new DaprSettings();
        foreach (var (keyNode, value) in root.Children)
        {
            var key = Reader.Key(keyNode);
            switch (key)
            {
                case "name":
                    name = Reader.Scalar(value);
                    break;
                case "solution":
                    solution = Reader.Scalar(value);
                    break;
                case "services":
                    foreach (var item in ((YamlSequenceNode)value).Children)
                    {
                        if (reader.Service((YamlMappingNode)item, directory) is { } service)
                        {
                            services.Add(service);
                        }
                    }

                    break;
                case "extensions":
                    foreach (var item in ((YamlSequenceNode)value).Children.Cast<YamlMappingNode>())
                    {
                        var extension = Reader.Scalar(item.Children.First(c => Reader.Key(c.Key) == "name").Value);
                        if (extension == "dapr")
                        {
                            dapr = reader.Dapr(item);
                        }
                        else
                        {
                            reader.Add(item, $"extension '{extension}' is not supported by dev/Host (it runs the dapr extension only)");
                        }
                    }

                    break;
                case "ingress":
                    reader.Add(keyNode, "key 'ingress' is not supported by dev/Host: call services through their sidecars");
                    break;
                default:
                    if (!IgnoredRootKeys.Contains(key))
                    {
                        reader.Add(keyNode, $"key '{key}' is not supported by dev/Host");
                    }

                    break;
            }
        }

        if (services.Count == 0 && problems.Count == 0)
        {
            reader.Add(root, "tye.yaml needs at least one service under 'services'");
        }

        foreach (var duplicate in services.GroupBy(s => s.Name).Where(g => g.Count() > 1))
        {
            reader.Add(root, $"service name '{duplicate.Key}' is used more than once");
        }

        foreach (var unknown in dapr.Services.Keys.Where(k => services.All(s => !string.Equals(s.Name, k, StringComparison.OrdinalIgnoreCase))))
        {
            reader.Add(root, $"the dapr extension configures service '{unknown}', which is not in 'services'");
        }

        if (problems.Count > 0)
        {
            throw new TyeFileException(problems);
        }

        return new TyeApplication(Path.GetFullPath(filePath), name, solution, services, dapr);
    }

    private sealed class Reader(string file, List<YamlProblem> problems)
    {
        public void Add(YamlNode at, string message) =>
            problems.Add(new YamlProblem(file, (int)at.Start.Line, (int)at.Start.Column, message));

        public static string Key(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

        public static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

        public TyeService? Service(YamlMappingNode node, string directory)
        {
            string? name = null, project = null, executable = null, workingDirectory = null, args = null;
            var replicas = 1;
            var build = true;
            var env = new List<KeyValuePair<string, string>>();
            var bindings = new List<TyeBinding>();
            var before = problems.Count;
            foreach (var (keyNode, value) in node.Children)
            {
                var key = Key(keyNode);
                switch (key)
                {
                    case "name":
                        // Tye lower-cases service names.
                        name = Scalar(value).ToLowerInvariant();
                        break;
                    case "project":
                        project = Scalar(value);
                        break;
                    case "executable":
                        executable = Scalar(value);
                        break;
                    case "workingDirectory":
                        workingDirectory = Scalar(value);
                        break;
                    case "args":
                        args = Scalar(value);
                        break;
                    case "replicas":
                        if (!int.TryParse(Scalar(value), NumberStyles.None, CultureInfo.InvariantCulture, out replicas))
                        {
                            Add(value, $"'replicas' must be a whole number of 0 or more, not '{Scalar(value)}'");
                        }

                        break;
                    case "build":
                        if (!bool.TryParse(Scalar(value), out build))
                        {
                            Add(value, $"'build' must be true or false, not '{Scalar(value)}'");
                        }

                        break;
                    case "env" or "configuration":
                        foreach (var entry in ((YamlSequenceNode)value).Children)
                        {
                            env.Add(EnvEntry(entry));
                        }

                        break;
                    case "env_file":
                        foreach (var entry in ((YamlSequenceNode)value).Children)
                        {
                            env.AddRange(EnvFile(entry, directory));
                        }

                        break;
                    case "bindings":
                        foreach (var entry in ((YamlSequenceNode)value).Children.Cast<YamlMappingNode>())
                        {
                            bindings.Add(Binding(entry));
                        }

                        break;
                    case "tags":
                        // Tags select services for `tye run --tags`; every service runs here.
                        break;
                    default:
                        var why = UnsupportedServiceKeys.GetValueOrDefault(key, "it is not supported");
                        Add(keyNode, $"key '{key}' is not supported by dev/Host: {why}");
                        break;
                }
            }

            if (name is null)
            {
                Add(node, "a service needs a 'name'");
            }
            else if (project is null && executable is null)
            {
                Add(node, $"service '{name}' needs 'project' or 'executable' (dev/Host runs those two kinds)");
            }
            else if (project is not null && executable is not null)
            {
                Add(node, $"service '{name}' has both 'project' and 'executable'");
            }

            if (problems.Count > before)
            {
                return null;
            }

            return new TyeService
            {
                Name = name!,
                Kind = project is not null ? ServiceKind.Project : ServiceKind.Executable,
                Path = project ?? executable!,
                WorkingDirectory = workingDirectory,
                Args = args,
                Replicas = replicas,
                Build = build,
                Env = env,
                Bindings = bindings,
            };
        }

        private static KeyValuePair<string, string> EnvEntry(YamlNode entry)
        {
            if (entry is YamlScalarNode compact)
            {
                // "NAME=value", or "NAME" alone to pass this shell's value through (as Tye does).
                var text = compact.Value ?? "";
                var eq = text.IndexOf('=', StringComparison.Ordinal);
                return eq < 0
                    ? new(text.Trim(), Environment.GetEnvironmentVariable(text.Trim()) ?? "")
                    : new(text[..eq].Trim(), text[(eq + 1)..].Trim().Trim('"'));
            }

            var map = (YamlMappingNode)entry;
            var name = map.Children.FirstOrDefault(c => Key(c.Key) == "name").Value;
            var value = map.Children.FirstOrDefault(c => Key(c.Key) == "value").Value;
            var envName = name is null ? "" : Scalar(name);
            return new(envName, value is null ? Environment.GetEnvironmentVariable(envName) ?? "" : Scalar(value));
        }

        private IEnumerable<KeyValuePair<string, string>> EnvFile(YamlNode entry, string directory)
        {
            var path = Path.Combine(directory, Scalar(entry));
            if (!File.Exists(path))
            {
                Add(entry, $"env_file '{Scalar(entry)}' does not exist ({path})");
                return [];
            }

            var result = new List<KeyValuePair<string, string>>();
            foreach (var raw in File.ReadAllLines(path))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var eq = line.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    Add(entry, $"env_file '{Scalar(entry)}': line '{line}' is not NAME=value");
                    continue;
                }

                result.Add(new(line[..eq].Trim(), line[(eq + 1)..].Trim().Trim('"')));
            }

            return result;
        }

        private TyeBinding Binding(YamlMappingNode node)
        {
            string? name = null, protocol = null;
            int? port = null;
            foreach (var (keyNode, value) in node.Children)
            {
                switch (Key(keyNode))
                {
                    case "name":
                        name = Scalar(value);
                        break;
                    case "protocol":
                        protocol = Scalar(value);
                        break;
                    case "port":
                        port = Int(value, "port");
                        break;
                    default:
                        // host, containerPort, connectionString, routes: descriptive here, every replica listens on 127.0.0.1.
                        break;
                }
            }

            return new TyeBinding(name, port, protocol);
        }

        public DaprSettings Dapr(YamlMappingNode node)
        {
            var settings = new DaprSettings { Enabled = true };
            var services = new Dictionary<string, DaprServiceSettings>(StringComparer.OrdinalIgnoreCase);
            foreach (var (keyNode, value) in node.Children)
            {
                var key = Key(keyNode);
                switch (key)
                {
                    case "name":
                        break;
                    case "services":
                        foreach (var (serviceKey, serviceValue) in ((YamlMappingNode)value).Children)
                        {
                            services[Key(serviceKey).ToLowerInvariant()] = DaprService((YamlMappingNode)serviceValue);
                        }

                        break;
                    default:
                        settings = Common(settings, keyNode, value);
                        break;
                }
            }

            return settings with { Services = services };
        }

        private DaprServiceSettings DaprService(YamlMappingNode node)
        {
            var common = new DaprSettings();
            string? appId = null;
            bool? enabled = null;
            foreach (var (keyNode, value) in node.Children)
            {
                switch (Key(keyNode))
                {
                    case "app-id":
                        appId = Scalar(value);
                        break;
                    case "enabled":
                        if (!bool.TryParse(Scalar(value), out var on))
                        {
                            Add(value, $"'enabled' must be true or false, not '{Scalar(value)}'");
                        }

                        enabled = on;
                        break;
                    default:
                        common = Common(common, keyNode, value);
                        break;
                }
            }

            return new DaprServiceSettings
            {
                AppId = appId,
                Enabled = enabled,
                ComponentsPath = common.ComponentsPath,
                Config = common.Config,
                AppMaxConcurrency = common.AppMaxConcurrency,
                LogLevel = common.LogLevel,
            };
        }

        private DaprSettings Common(DaprSettings settings, YamlNode keyNode, YamlNode value)
        {
            var key = Key(keyNode);
            switch (key)
            {
                case "components-path":
                    return settings with { ComponentsPath = Scalar(value) };
                case "config":
                    return settings with { Config = Scalar(value) };
                case "app-max-concurrency":
                    var max = Int(value, key);
                    if (max is 0 or < -1)
                    {
                        Add(value, "'app-max-concurrency' must be a positive number or -1");
                    }

                    return settings with { AppMaxConcurrency = max };
                case "log-level":
                    if (Scalar(value) is not ("debug" or "info" or "warn" or "error"))
                    {
                        Add(value, $"'log-level' must be debug, info, warn or error, not '{Scalar(value)}'");
                    }

                    return settings with { LogLevel = Scalar(value) };
                default:
                    var why = UnsupportedDaprKeys.GetValueOrDefault(key, "it is not supported");
                    Add(keyNode, $"dapr extension key '{key}' is not supported by dev/Host: {why}");
                    return settings;
            }
        }

        private int? Int(YamlNode value, string key)
        {
            if (int.TryParse(Scalar(value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            {
                return n;
            }

            Add(value, $"'{key}' must be a whole number, not '{Scalar(value)}'");
            return null;
        }
    }
}
