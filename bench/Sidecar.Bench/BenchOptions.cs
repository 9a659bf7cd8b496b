using System.Globalization;

namespace Platform.Sidecar.Bench;

/// <summary>The command line. Sizes are per round; the defaults keep a whole run near two minutes on 2 cores.</summary>
internal sealed record BenchOptions
{
    public bool Quick { get; init; }

    /// <summary><c>--json</c> prints the results as JSON after the table; <c>--json=FILE</c> writes them to FILE.</summary>
    public bool Json { get; init; }

    public string? JsonFile { get; init; }

    public bool RunInvocation { get; init; } = true;

    public bool RunPubSub { get; init; } = true;

    /// <summary>How the sidecar benchmark publishes: <c>grpc</c> (Dapr.Client PublishEvent) or <c>http</c> (POST /v1.0/publish).</summary>
    public string PublishPath { get; init; } = "grpc";

    /// <summary>
    /// Longest warm-up of each benchmark. Warm-up goes on until the JIT has stopped compiling (it re-compiles hot
    /// code in tiers for seconds, longer when the machine is busy), at least <see cref="MinWarmup"/>.
    /// </summary>
    public TimeSpan InvocationWarmup { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan PubSubWarmup { get; init; } = TimeSpan.FromSeconds(40);

    public TimeSpan MinWarmup { get; init; } = TimeSpan.FromSeconds(3);

    public int LatencyRounds { get; init; } = 10;

    public int LatencyRequests { get; init; } = 1500;

    public int ThroughputRounds { get; init; } = 6;

    public TimeSpan ThroughputSlice { get; init; } = TimeSpan.FromSeconds(1.5);

    public int Concurrency { get; init; } = 16;

    public int PubSubRounds { get; init; } = 3;

    public int Events { get; init; } = 30_000;

    /// <summary>Publishes in flight at once from the publishing app.</summary>
    public int PublishWindow { get; init; } = 64;

    public string? RedisServer { get; init; }

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        if (args.Contains("--quick"))
        {
            o = o with
            {
                Quick = true,
                InvocationWarmup = TimeSpan.FromSeconds(2),
                PubSubWarmup = TimeSpan.FromSeconds(3),
                MinWarmup = TimeSpan.FromSeconds(1),
                LatencyRounds = 4,
                LatencyRequests = 500,
                ThroughputRounds = 2,
                ThroughputSlice = TimeSpan.FromSeconds(0.5),
                PubSubRounds = 1,
                Events = 6_000,
            };
        }

        foreach (var arg in args)
        {
            var (name, value) = arg.Split('=', 2) is [var n, var v] ? (n, v) : (arg, null);
            o = name switch
            {
                "--quick" => o,
                "--json" => o with { Json = true, JsonFile = value },
                "--only" => value switch
                {
                    "invoke" => o with { RunPubSub = false },
                    "pubsub" => o with { RunInvocation = false },
                    _ => throw new ArgumentException("--only=invoke or --only=pubsub"),
                },
                "--publish" => value is "grpc" or "http" ? o with { PublishPath = value } : throw new ArgumentException("--publish=grpc or --publish=http"),
                "--rounds" => o with { LatencyRounds = Int(name, value) },
                "--requests" => o with { LatencyRequests = Int(name, value) },
                "--concurrency" => o with { Concurrency = Int(name, value) },
                "--events" => o with { Events = Int(name, value) },
                "--pubsub-rounds" => o with { PubSubRounds = Int(name, value) },
                "--window" => o with { PublishWindow = Int(name, value) },
                "--redis-server" => o with { RedisServer = value },
                "--help" or "-h" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"unknown option {arg}\n{Usage}"),
            };
        }

        return o;
    }

    private static int Int(string name, string? value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
            : throw new ArgumentException($"{name}=N needs a positive whole number");

    public const string Usage = """
        usage: dotnet run -c Release --project bench/Sidecar.Bench [-- options]
          --quick                 short run (about 20 s)
          --json[=FILE]           also print (or write) the results as JSON
          --only=invoke|pubsub    run one benchmark
          --publish=grpc|http     how the sidecar benchmark publishes (default grpc, Dapr.Client PublishEvent)
          --rounds=N --requests=N latency rounds and requests per round and side (default 10 x 1500)
          --concurrency=N         in-flight requests of the throughput test (default 16)
          --events=N --pubsub-rounds=N --window=N   events per pub/sub round, rounds, publishes in flight
          --redis-server=PATH     redis-server to start (default: /usr/bin/redis-server or on PATH)
        """;
}
