using System.Diagnostics;
using System.Globalization;
using Platform.Live.Bench;

// Live's fan-out under load: N SSE clients spread over F followers while upstream publishes solver-load reports at
// R per second (each becomes one delta from the leader, and reaches every client: the load panel is shared).
// Scenarios: a baseline (one follower, 10 clients), then N clients on one follower, then N/2 on each of two; or,
// with --capacity, the most clients 1 and 2 followers serve within a p99 target.
// The readers run in a process of their own (the `reader` sub-command), the sidecars in another (`sidecars`):
// this process holds only the publisher.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

if (args.Length > 0 && args[0] == "reader")
{
    return await ReaderCommand.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "sidecars")
{
    return await SidecarsCommand.RunAsync(args[1..]);
}

var clients = Arg("--clients", 1000);
var rate = Arg("--rate", 100);
var seconds = Arg("--seconds", 20);
var warmup = Arg("--warmup", 5);
var capacity = args.Contains("--capacity");
var target = Arg("--target-p99", 50);
var stepSeconds = Arg("--step-seconds", 10);
var startClients = Arg("--start-clients", 100);
var maxClients = Arg("--max-clients", 4000);
var configuration =
#if DEBUG
    "Debug";
#else
    "Release";
#endif
var command = $"dotnet run -c {configuration} --project bench/Live.Bench" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");

var root = FindRoot();
var dll = StringArg("--live-dll") is { } given ? Path.GetFullPath(given) : Path.Combine(root, "services", "Live", "bin", configuration, "net10.0", "Platform.Live.dll");
if (!File.Exists(dll))
{
    Console.Error.WriteLine($"{dll} is missing: dotnet build services/Live/Live.csproj -c {configuration}");
    return 2;
}

var work = Directory.CreateTempSubdirectory("live-bench-").FullName;
var components = Directory.CreateDirectory(Path.Combine(work, "components")).FullName;
File.WriteAllText(Path.Combine(components, "pubsub.yaml"), Component("pubsub", "pubsub.in-memory", ""));
File.WriteAllText(Path.Combine(components, "statestore.yaml"), Component("statestore", "state.in-memory", ""));
File.WriteAllText(Path.Combine(components, "views-broadcast.yaml"), Component("views-broadcast", "pubsub.in-memory", "\n    - name: consumerID\n      value: \"{uuid}\""));

Console.WriteLine($"# Live.Bench — {command}");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, load average at start {LoadAverage()}");
Console.WriteLine($"live: {dll}");
Console.WriteLine(capacity
    ? $"capacity: for 1 and 2 followers, the most clients whose p99 stays ≤ {target} ms at {rate} deltas/s ({stepSeconds} s per step after a {warmup} s warm-up)"
    : $"each scenario: {rate} deltas/s for {seconds} s after a {warmup} s warm-up; latency = upstream publish → event read by the client");
Console.WriteLine("processes: bench (the publisher only), sidecars (every dev/Sidecar, one process: the in-memory bus), leader, followers, readers (the SSE clients)");
Console.WriteLine();

try
{
    if (capacity)
    {
        await CapacityAsync();
    }
    else
    {
        await ScenariosAsync();
    }
}
finally
{
    Directory.Delete(work, recursive: true);
}

Console.WriteLine();
Console.WriteLine($"load average at end {LoadAverage()}");
return 0;

async Task ScenariosAsync()
{
    var results = new List<(string Name, Measurement Result)>();
    var scenarios = new (string Name, int Followers, int Clients)[]
    {
        ("baseline: 1 follower, 10 clients", 1, 10),
        ($"1 follower, {clients} clients", 1, clients),
        ($"2 followers, {clients / 2} clients each", 2, clients),
    };
    foreach (var (name, followers, count) in scenarios)
    {
        Console.Error.WriteLine($"running: {name}");
        await using var cluster = await Cluster.StartAsync(dll, components, work, followers);
        cluster.StartPublisher(rate);
        results.Add((name, await MeasureAsync(cluster, count, seconds)));
    }

    var baseline = results[0].Result;
    Console.WriteLine($"{"scenario",-34} {"clients",7} {"events",9} {"ended",5} {"p50 ms",7} {"p99 ms",7} {"max ms",7} {"p50 ×",6} {"p99 ×",6} {"pub/s",5}  {"CPU (cores): followers",-22} {"leader",6} {"sidecars",8} {"readers",7} {"bench",5}  load");
    foreach (var (name, r) in results)
    {
        Console.WriteLine($"{name,-34} {r.Clients,7} {r.Readers.Events,9} {r.Readers.Ended,5} {r.Readers.P50,7:F1} {r.Readers.P99,7:F1} {r.Readers.Max,7:F1} {r.Readers.P50 / baseline.Readers.P50,6:F2} {r.Readers.P99 / baseline.Readers.P99,6:F2} {r.Published,5:F0}  {r.Followers,-22} {r.Cpu["leader"],6:F2} {r.Cpu["sidecars"],8:F2} {r.Cpu["readers"],7:F2} {r.Cpu["bench"],5:F2}  {r.Load}");
    }

    Console.WriteLine();
    Console.WriteLine($"events: load deltas read by all clients in the {seconds} s window (at {rate}/s about clients × {rate * seconds}); ended: streams the follower closed (too slow); pub/s: what upstream achieved; load: 1-minute load average as the scenario started.");
}

async Task CapacityAsync()
{
    var found = new Dictionary<int, (int Clients, Measurement? At)>();
    Console.WriteLine($"{"followers",9} {"clients",7} {"events",9} {"ended",5} {"p50 ms",7} {"p99 ms",7} {"pub/s",5}  {"CPU (cores): followers",-22} {"leader",6} {"sidecars",8} {"readers",7} {"bench",5}  {"load",-16} verdict");
    foreach (var followers in new[] { 1, 2 })
    {
        Console.Error.WriteLine($"capacity: {followers} follower(s)");
        await using var cluster = await Cluster.StartAsync(dll, components, work, followers);
        cluster.StartPublisher(rate);
        int lo = 0, n = startClients;
        int? hi = null;
        Measurement? best = null;
        while (true)
        {
            var m = await MeasureAsync(cluster, n, stepSeconds);
            var pass = m.Readers.P99 <= target && m.Readers.Ended == 0 && m.Published >= 0.9 * rate;
            Console.WriteLine($"{followers,9} {n,7} {m.Readers.Events,9} {m.Readers.Ended,5} {m.Readers.P50,7:F1} {m.Readers.P99,7:F1} {m.Published,5:F0}  {m.Followers,-22} {m.Cpu["leader"],6:F2} {m.Cpu["sidecars"],8:F2} {m.Cpu["readers"],7:F2} {m.Cpu["bench"],5:F2}  {m.Load,-16} {(pass ? "within" : "over")}");
            if (pass)
            {
                lo = n;
                best = m;
            }
            else
            {
                hi = n;
            }

            if (hi is not { } over)
            {
                if (n >= maxClients)
                {
                    break;
                }

                n = Math.Min(n * 2, maxClients);
                continue;
            }

            // Bisect between the largest count within the target and the smallest over it, to 10 % (or 25 clients).
            if (over - lo <= Math.Max(25, lo / 10))
            {
                break;
            }

            n = (lo + over) / 2 / 25 * 25;
            if (n <= lo)
            {
                break;
            }
        }

        found[followers] = (lo, best);
    }

    Console.WriteLine();
    Console.WriteLine($"most clients with p99 ≤ {target} ms at {rate} deltas/s: 1 follower {found[1].Clients}, 2 followers {found[2].Clients}; ratio {(found[1].Clients == 0 ? double.NaN : (double)found[2].Clients / found[1].Clients):F2} (goal ≥ 1.7)");
}

async Task<Measurement> MeasureAsync(Cluster cluster, int count, int window)
{
    var load = LoadAverage();
    await using var readers = await ReaderProcess.StartAsync(cluster.FollowerUrls, count);
    await Task.Delay(TimeSpan.FromSeconds(warmup));
    await readers.RecordAsync();
    var cpu0 = cluster.CpuTimes(readers);
    var published0 = cluster.Published;
    var clock = Stopwatch.StartNew();
    await Task.Delay(TimeSpan.FromSeconds(window));
    var cpu1 = cluster.CpuTimes(readers);
    var published = cluster.Published - published0;
    var wall = clock.Elapsed.TotalSeconds;
    var report = await readers.StopAsync();
    var cores = cpu1.ToDictionary(kv => kv.Key, kv => (kv.Value - cpu0[kv.Key]).TotalSeconds / wall);
    return new Measurement(count, report, published / wall, cores, load);
}

string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);

int Arg(string name, int fallback) => int.TryParse(StringArg(name), out var v) ? v : fallback;

string? StringArg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Platform.sln not found above the bench's folder");
}

static string Component(string name, string type, string metadata) => $"""
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: {name}
    spec:
      type: {type}
      version: v1
      metadata:{(metadata.Length == 0 ? " []" : metadata)}

    """;

internal sealed record Measurement(int Clients, ReaderReport Readers, double Published, Dictionary<string, double> Cpu, string Load)
{
    public string Followers => string.Join(" + ", Cpu.Where(kv => kv.Key.StartsWith("follower", StringComparison.Ordinal)).Select(kv => kv.Value.ToString("F2", CultureInfo.InvariantCulture)));
}
