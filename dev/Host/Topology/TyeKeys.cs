using static Platform.Host.Topology.Shape;

namespace Platform.Host.Topology;

/// <summary>
/// The keys Tye's parser accepts in tye.yaml. They come from its parser (dotnet/tye
/// <c>src/Microsoft.Tye.Core/Serialization/Config*Parser.cs</c>), not from its JSON schema: the parser throws
/// "Unrecognized key" on anything else, accepts keys the schema lacks (<c>env_file</c>, <c>configuration</c>,
/// <c>liveness</c>, <c>readiness</c>, <c>tags</c>, binding <c>routes</c>…) and rejects one the schema has
/// (binding <c>autoAssignPort</c>). The Dapr extension reads its own keys leniently — a misspelt one is silently
/// ignored — so here an unknown Dapr key is an error too.
/// </summary>
internal static class TyeKeys
{
    public const string Tool = "Tye's parser";

    private static readonly Shape NameValue = Map(("name", Scalar), ("value", Scalar));

    private static readonly Shape Probe = Map(
        ("http", Map(("path", Scalar), ("port", Scalar), ("protocol", Scalar), ("headers", Seq(NameValue)))),
        ("initialDelay", Scalar),
        ("period", Scalar),
        ("timeout", Scalar),
        ("successThreshold", Scalar),
        ("failureThreshold", Scalar));

    public static readonly Shape Binding = Map(
        ("name", Scalar),
        ("connectionString", Scalar),
        ("port", Scalar),
        ("containerPort", Scalar),
        ("host", Scalar),
        ("protocol", Scalar),
        ("routes", Seq(Scalar)));

    public static readonly Shape Service = Map(
        ("name", Scalar),
        ("external", Scalar),
        ("image", Scalar),
        ("dockerFile", Scalar),
        ("dockerFileArgs", Seq(Dict(Scalar))),
        ("dockerFileContext", Scalar),
        ("project", Scalar),
        ("buildProperties", Seq(NameValue)),
        ("include", Scalar),
        ("repository", Scalar),
        ("build", Scalar),
        ("executable", Scalar),
        ("workingDirectory", Scalar),
        ("args", Scalar),
        ("replicas", Scalar),
        ("bindings", Seq(Binding)),
        ("volumes", Seq(Map(("name", Scalar), ("source", Scalar), ("target", Scalar)))),
        // An entry is {name, value} or the compact "NAME=value" string.
        ("env", Seq(ScalarOr(NameValue))),
        ("configuration", Seq(ScalarOr(NameValue))),
        ("env_file", Seq(Scalar)),
        ("liveness", Probe),
        ("readiness", Probe),
        ("tags", Seq(Scalar)),
        ("azureFunction", Scalar),
        ("pathToFunc", Scalar),
        ("cloneDirectory", Scalar));

    private static readonly Shape Ingress = Map(
        ("name", Scalar),
        ("replicas", Scalar),
        ("rules", Seq(Map(("host", Scalar), ("path", Scalar), ("preservePath", Scalar), ("service", Scalar)))),
        ("bindings", Seq(Map(("name", Scalar), ("port", Scalar), ("ip", Scalar), ("protocol", Scalar)))),
        ("tags", Seq(Scalar)));

    /// <summary>Dapr extension keys valid both for the whole extension and per service (DaprExtensionConfigurationReader).</summary>
    public static readonly string[] DaprCommon =
    [
        "app-max-concurrency", "app-protocol", "app-ssl", "components-path", "config", "enable-profiling",
        "http-max-request-size", "log-level", "placement-port",
    ];

    /// <summary>Dapr extension keys valid only under <c>services: &lt;name&gt;:</c>.</summary>
    public static readonly string[] DaprServiceOnly = ["app-id", "enabled", "grpc-port", "http-port", "metrics-port", "profile-port"];

    public static readonly Shape DaprService = Map([.. DaprCommon.Concat(DaprServiceOnly).Select(k => (k, Scalar))]);

    public static readonly Shape DaprExtension = Map([("name", Scalar), .. DaprCommon.Select(k => (k, Scalar)), ("services", Dict(DaprService))]);

    /// <summary>Tye's well-known extensions (WellKnownExtensions.cs); it stops on any other name.</summary>
    private static readonly Shape Extension = new ByNameShape("extension", new Dictionary<string, Shape?>(StringComparer.Ordinal)
    {
        ["dapr"] = DaprExtension,
        ["elastic"] = null,
        ["seq"] = null,
        ["zipkin"] = null,
    });

    public static readonly Shape Root = Map(
        ("name", Scalar),
        ("solution", Scalar),
        ("namespace", Scalar),
        ("network", Scalar),
        ("registry", ScalarOr(Map(("name", Scalar), ("pullSecret", Scalar)))),
        ("containerEngine", Scalar),
        ("dashboardPort", Scalar),
        ("ingress", Seq(Ingress)),
        ("services", Seq(Service)),
        ("extensions", Seq(Extension)));

    /// <summary>Every key in <paramref name="yaml"/> that Tye's parser would reject (or its Dapr extension ignore).</summary>
    public static IReadOnlyList<YamlProblem> Check(string yaml, string file)
    {
        var problems = new List<YamlProblem>();
        if (ShapeChecker.Load(yaml, file, problems) is { } root)
        {
            problems.AddRange(ShapeChecker.Check(root, Root, file, Tool));
        }

        return problems;
    }
}
