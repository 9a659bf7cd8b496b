using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Dapr.Client;
using Platform.Live.Bench;

// Live's fan-out under load: N SSE clients spread over F followers while upstream publishes solver-load reports at
// R per second (each becomes one delta from the leader, and reaches every client: the load panel is shared).
// Scenarios: a baseline (one follower, 10 clients), then 1,000 clients on one follower, then 500 on each of two.
// Prints latency publish→client (p50/p99) and each process's CPU, with ratios against the baseline.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var clients = Arg("--clients", 1000);
var rate = Arg("--rate", 100);
var seconds = Arg("--seconds", 20);
var configuration =
#if DEBUG
    "Debug";
#else
    "Release";
#endif
var command = $"dotnet run -c {configuration} --project bench/Live.Bench" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");

var root = FindRoot();
var dll = Path.Combine(root, "services", "Live", "bin", configuration, "net10.0", "Platform.Live.dll");
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
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, load average at start {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
Console.WriteLine($"each scenario: {rate} deltas/s for {seconds} s after a 5 s warm-up; latency = upstream publish → event read by the client");
Console.WriteLine();

var results = new List<(string Name, Result Result)>();
var scenarios = new (string Name, int Followers, int Clients)[]
{
    ("baseline: 1 follower, 10 clients", 1, 10),
    ($"1 follower, {clients} clients", 1, clients),
    ($"2 followers, {clients / 2} clients each", 2, clients),
};
try
{
    foreach (var (name, followers, count) in scenarios)
    {
        Console.Error.WriteLine($"running: {name}");
        results.Add((name, await RunAsync(followers, count)));
    }
}
finally
{
    Directory.Delete(work, recursive: true);
}

var baseline = results[0].Result;
Console.WriteLine($"{"scenario",-36} {"clients",8} {"events",10} {"p50 ms",8} {"p99 ms",8} {"max ms",8} {"p50 ×",7} {"p99 ×",7} {"pub/s",6}  follower CPU (cores)     leader CPU");
foreach (var (name, r) in results)
{
    Console.WriteLine($"{name,-36} {r.Clients,8} {r.Events,10} {r.P50,8:F1} {r.P99,8:F1} {r.Max,8:F1} {r.P50 / baseline.P50,7:F2} {r.P99 / baseline.P99,7:F2} {r.Published,6:F0}  {string.Join(" + ", r.FollowerCpu.Select(c => c.ToString("F2"))),-24} {r.LeaderCpu:F2}");
}

Console.WriteLine();
Console.WriteLine($"events: load deltas read by all clients in the {seconds} s window (at {rate}/s that is about clients × {rate * seconds}); published/s: what upstream achieved.");
return 0;

async Task<Result> RunAsync(int followerCount, int clientCount)
{
    var registry = Path.Combine(work, $"registry-{Guid.NewGuid():N}"); // the first sidecar creates it, private (0700), as it must be
    await using var upstreamSidecar = await Platform.Sidecar.SidecarHost.StartAsync(new() { AppId = "bench", ResourcesPaths = [components], RegistryFolder = registry });
    using var upstream = new DaprClientBuilder().UseHttpEndpoint(upstreamSidecar.HttpEndpoint).UseGrpcEndpoint(upstreamSidecar.GrpcEndpoint).Build();
    await using var leader = await LiveProcess.StartAsync(dll, "live-leader", "leader", components, registry);
    var followers = new List<LiveProcess>();
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
    try
    {
        for (var i = 0; i < followerCount; i++)
        {
            var follower = await LiveProcess.StartAsync(dll, "live", "follower", components, registry);
            followers.Add(follower);
            await Until(async () => (await http.GetFromJsonAsync<Mirror>($"{follower.Url}mirror"))?.Ready == true, "a follower's first snapshot");
        }

        await using var sse = new SseClients(http);
        for (var i = 0; i < followerCount; i++)
        {
            sse.Start(followers[i].Url, clientCount / followerCount, $"user-{i}-");
        }

        await Until(() => Task.FromResult(sse.Connected == clientCount), $"{clientCount} clients to connect");

        using var stop = new CancellationTokenSource();
        var published = new long[1];
        var publisher = new Thread(() => Publish(upstream, published, stop.Token)) { IsBackground = true, Name = "publisher" };
        publisher.Start();
        await Task.Delay(TimeSpan.FromSeconds(5));
        sse.Record(true);
        var cpu0 = followers.Select(f => f.CpuTime()).ToList();
        var leaderCpu0 = leader.CpuTime();
        var published0 = Interlocked.Read(ref published[0]);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var publishedRate = (Interlocked.Read(ref published[0]) - published0) / clock.Elapsed.TotalSeconds;
        var wall = clock.Elapsed.TotalSeconds;
        var cpu = followers.Select((f, i) => (f.CpuTime() - cpu0[i]).TotalSeconds / wall).ToList();
        var leaderCpu = (leader.CpuTime() - leaderCpu0).TotalSeconds / wall;
        sse.Record(false);
        await stop.CancelAsync();
        publisher.Join();
        var latencies = sse.Latencies();
        latencies.Sort();
        return new Result(clientCount, latencies.Count, SseClients.Percentile(latencies, 50), SseClients.Percentile(latencies, 99),
            latencies.Count == 0 ? double.NaN : latencies[^1], cpu, leaderCpu, publishedRate);
    }
    finally
    {
        foreach (var follower in followers)
        {
            await follower.DisposeAsync();
        }
    }
}

// Blocking, on a thread of its own: the thousand readers in this process must not set the publisher's pace.
void Publish(DaprClient dapr, long[] published, CancellationToken ct)
{
    var interval = TimeSpan.FromSeconds(1.0 / rate);
    var clock = Stopwatch.StartNew();
    for (long n = 0; !ct.IsCancellationRequested; n++)
    {
        var due = interval * n - clock.Elapsed;
        if (due > TimeSpan.Zero)
        {
            Thread.Sleep(due);
        }

        dapr.PublishEventAsync("pubsub", "solver-load",
            new { replicaId = $"solver-{n % 4}", cpu = (n % 100) / 100.0, movesPerSecond = 1e6, inFlight = 1, at = DateTimeOffset.UtcNow }, CancellationToken.None)
            .GetAwaiter().GetResult();
        Interlocked.Increment(ref published[0]);
    }
}

static async Task Until(Func<Task<bool>> condition, string what)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
    while (true)
    {
        try
        {
            if (await condition())
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }

        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"timed out waiting for {what}");
        }

        await Task.Delay(100);
    }
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
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

internal sealed record Mirror(bool Ready);

internal sealed record Result(int Clients, int Events, double P50, double P99, double Max, List<double> FollowerCpu, double LeaderCpu, double Published);
