using System.Globalization;

namespace Platform.Host;

/// <summary>The host's command line.</summary>
internal sealed record HostOptions
{
    public const string Usage = """
        usage: dotnet run --project dev/Host [-- options]
          --file, -f <tye.yaml>         the topology (default: tye.yaml here or in a parent folder)
          --components <local|redis|name|tye|dir>
                                        components for every sidecar: components/<name> next to tye.yaml
                                        (default local: in-memory, nothing to install; redis needs redis-server),
                                        tye for tye.yaml's components-path (what tye run uses), or a folder
          --no-build                    start what was built before instead of building first
          --configuration, -c <name>    build configuration (default Debug)
          --stop-timeout <seconds>      how long apps get to stop after SIGTERM before they are killed (default 10)
          --check                       only check that tye.yaml and dapr.yaml agree and use valid keys
          --help, -h                    this text
        """;

    /// <summary>The components folder (under components/ next to tye.yaml) when --components is not given.</summary>
    public const string DefaultComponents = "local";

    /// <summary>The --components value that means "what tye.yaml's components-path says".</summary>
    public const string TyeComponents = "tye";

    public string? File { get; init; }

    public string? Components { get; init; }

    public bool NoBuild { get; init; }

    public string Configuration { get; init; } = "Debug";

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public bool Check { get; init; }

    public bool Help { get; init; }

    public static HostOptions Parse(IReadOnlyList<string> args)
    {
        var options = new HostOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var flag = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new FormatException($"{flag} needs a value");
                }

                return args[++i];
            }

            options = flag switch
            {
                "--file" or "-f" => options with { File = Value() },
                "--components" => options with { Components = Value() },
                "--no-build" => options with { NoBuild = true },
                "--configuration" or "-c" => options with { Configuration = Value() },
                "--stop-timeout" => options with { StopTimeout = Seconds(flag, Value()) },
                "--check" => options with { Check = true },
                "--help" or "-h" => options with { Help = true },
                _ => throw new FormatException($"unknown option {flag}"),
            };
        }

        return options;
    }

    private static TimeSpan Seconds(string flag, string value) =>
        double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var s) && s >= 0
            ? TimeSpan.FromSeconds(s)
            : throw new FormatException($"{flag} '{value}' is not a number of seconds");
}
