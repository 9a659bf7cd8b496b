using System.Globalization;
using YamlDotNet.RepresentationModel;
using static Platform.Host.Topology.Shape;

namespace Platform.Host.Topology;

/// <summary>
/// The keys of the Dapr CLI's multi-app run file (dapr/cli <c>pkg/runfileconfig/run_file_config.go</c> and the
/// <c>RunConfig</c>/<c>SharedRunConfig</c> structs in <c>pkg/standalone/run.go</c>). The CLI reads it
/// non-strictly, so a wrongly cased key (<c>appId</c>, <c>daprHttpPort</c>) is silently ignored there; here it
/// is an error.
/// </summary>
internal static class DaprRunKeys
{
    public const string Tool = "the Dapr CLI's run file";

    private static readonly (string, Shape)[] Shared =
    [
        ("configFilePath", Scalar), ("appProtocol", Scalar), ("apiListenAddresses", Scalar), ("enableProfiling", Scalar),
        ("logLevel", Scalar), ("appMaxConcurrency", Scalar), ("placementHostAddress", Scalar), ("resourcesPath", Scalar),
        ("resourcesPaths", Seq(Scalar)), ("appSSL", Scalar), ("maxBodySize", Scalar), ("readBufferSize", Scalar),
        ("enableAppHealthCheck", Scalar), ("appHealthCheckPath", Scalar), ("appHealthProbeInterval", Scalar),
        ("appHealthProbeTimeout", Scalar), ("appHealthThreshold", Scalar), ("enableApiLogging", Scalar),
        ("runtimePath", Scalar), ("env", Dict(Scalar)), ("daprdLogDestination", Scalar), ("appLogDestination", Scalar),
        ("schedulerHostAddress", Scalar),
    ];

    private static readonly (string, Shape)[] AppOnly =
    [
        ("appDirPath", Scalar), ("appID", Scalar), ("appChannelAddress", Scalar), ("appPort", Scalar),
        ("daprHTTPPort", Scalar), ("daprGRPCPort", Scalar), ("daprInternalGRPCPort", Scalar), ("profilePort", Scalar),
        ("metricsPort", Scalar), ("unixDomainSocket", Scalar), ("command", Seq(Scalar)), ("containerImage", Scalar),
        ("containerImagePullPolicy", Scalar), ("createService", Scalar),
    ];

    public static readonly Shape Root = Map(
        ("version", Scalar),
        ("name", Scalar),
        ("common", Map(Shared)),
        ("apps", Seq(Map([.. AppOnly, .. Shared]))));
}

/// <summary>dapr.yaml, the same topology for <c>dapr run -f .</c>.</summary>
public sealed record DaprRunFile(string FilePath, int Version, DaprRunShared Common, IReadOnlyList<DaprRunApp> Apps)
{
    public string Directory => Path.GetDirectoryName(FilePath)!;
}

/// <summary>Keys valid in <c>common</c> and per app; paths already resolved as the CLI resolves them.</summary>
public sealed record DaprRunShared(IReadOnlyList<string>? ResourcesPaths, string? ConfigFilePath, int? AppMaxConcurrency);

public sealed record DaprRunApp(
    string AppId,
    string AppDirPath,
    int? AppPort,
    int? DaprHttpPort,
    int? DaprGrpcPort,
    IReadOnlyList<string> Command,
    DaprRunShared Own,
    int Line);

public static class DaprRunFileReader
{
    public static DaprRunFile Load(string path)
    {
        var full = Path.GetFullPath(path);
        return Parse(File.ReadAllText(full), full);
    }

    public static DaprRunFile Parse(string yaml, string filePath)
    {
        var file = Path.GetFileName(filePath);
        var directory = Path.GetDirectoryName(Path.GetFullPath(filePath))!;
        var problems = new List<YamlProblem>();
        var root = ShapeChecker.Load(yaml, file, problems);
        if (root is not null)
        {
            problems.AddRange(ShapeChecker.Check(root, DaprRunKeys.Root, file, DaprRunKeys.Tool));
        }

        if (problems.Count > 0 || root is not YamlMappingNode map)
        {
            throw new TyeFileException(problems.Count > 0 ? problems : [new YamlProblem(file, 1, 1, "the top level must be a mapping")]);
        }

        void Add(YamlNode at, string message) => problems.Add(new YamlProblem(file, (int)at.Start.Line, (int)at.Start.Column, message));

        int? Int(YamlMappingNode node, string key)
        {
            if (Get(node, key) is not YamlScalarNode value)
            {
                return null;
            }

            if (int.TryParse(value.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            {
                return n;
            }

            Add(value, $"'{key}' must be a whole number, not '{value.Value}'");
            return null;
        }

        string? ExistingPath(YamlNode? node, string relativeTo)
        {
            if (node is not YamlScalarNode { Value: { } text })
            {
                return null;
            }

            // The CLI resolves every path and refuses a missing one (resolvePathToAbsAndValidate).
            var full = Path.GetFullPath(Path.Combine(relativeTo, text));
            if (!File.Exists(full) && !System.IO.Directory.Exists(full))
            {
                Add(node, $"path '{text}' does not exist ({full})");
            }

            return full;
        }

        DaprRunShared SharedOf(YamlMappingNode? node, string relativeTo)
        {
            if (node is null)
            {
                return new DaprRunShared(null, null, null);
            }

            List<string>? resources = null;
            if (Get(node, "resourcesPaths") is YamlSequenceNode list)
            {
                resources = [.. list.Children.Select(c => ExistingPath(c, relativeTo)!)];
            }
            else if (Get(node, "resourcesPath") is { } single)
            {
                resources = [ExistingPath(single, relativeTo)!];
            }

            return new DaprRunShared(resources, ExistingPath(Get(node, "configFilePath"), relativeTo), Int(node, "appMaxConcurrency"));
        }

        var version = Int(map, "version");
        if (version is null or 0)
        {
            Add(map, "'version' is required (the CLI says: required field 'version' not found)");
        }

        var common = SharedOf(Get(map, "common") as YamlMappingNode, directory);
        var apps = new List<DaprRunApp>();
        if (Get(map, "apps") is not YamlSequenceNode appNodes || appNodes.Children.Count == 0)
        {
            Add(map, "'apps' needs at least one app");
        }
        else
        {
            foreach (var app in appNodes.Children.Cast<YamlMappingNode>())
            {
                if (Get(app, "appDirPath") is not YamlScalarNode { Value: { } dir })
                {
                    Add(app, "an app needs 'appDirPath'");
                    continue;
                }

                var appDir = ExistingPath(Get(app, "appDirPath"), directory)!;
                var appId = (Get(app, "appID") as YamlScalarNode)?.Value ?? Path.GetFileName(dir.TrimEnd('/', '\\'));
                var command = (Get(app, "command") as YamlSequenceNode)?.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList() ?? [];
                apps.Add(new DaprRunApp(appId, appDir, Int(app, "appPort"), Int(app, "daprHTTPPort"), Int(app, "daprGRPCPort"),
                    command, SharedOf(app, appDir), (int)app.Start.Line));
            }
        }

        if (problems.Count > 0)
        {
            throw new TyeFileException(problems);
        }

        return new DaprRunFile(Path.GetFullPath(filePath), version!.Value, common, apps);
    }

    private static YamlNode? Get(YamlMappingNode node, string key) =>
        node.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: { } k } && k == key).Value;
}
