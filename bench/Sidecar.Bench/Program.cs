using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Platform.Sidecar.Bench;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var machine = Machine.Describe();
var loadAtStart = Machine.LoadAverage();
var command = $"dotnet run -c {Machine.Configuration} --project bench/Sidecar.Bench" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");
var workDir = Directory.CreateTempSubdirectory("sidecar-bench-").FullName;
var registry = Path.Combine(workDir, "registry"); // the first sidecar creates it, private (0700), as it must be
var emptyResources = Directory.CreateDirectory(Path.Combine(workDir, "components-none")).FullName;
var clock = Stopwatch.StartNew();
void Progress(string what) => Console.Error.WriteLine(
    $"[{clock.Elapsed.TotalSeconds,5:F1}s] {what,-36} (threads {ThreadPool.ThreadCount}, JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods / {System.Runtime.JitInfo.GetCompilationTime().TotalSeconds:F1} s, GCs {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)})");

InvocationResult? invocation = null;
PubSubResult? pubsub = null;
var failed = false;
try
{
    if (options.RunInvocation)
    {
        invocation = await InvocationBench.RunAsync(options, registry, emptyResources, Progress);
    }

    if (options.RunPubSub)
    {
        pubsub = await PubSubBench.RunAsync(options, registry, workDir, Progress);
        failed |= pubsub.Error is not null;
    }
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or IOException)
{
    Console.Error.WriteLine($"benchmark failed: {e.Message}");
    failed = true;
}
finally
{
    try
    {
        Directory.Delete(workDir, recursive: true);
    }
    catch (IOException)
    {
    }
}

machine = machine with { Load = $"{loadAtStart} at start, {Machine.LoadAverage()} at end" };
var report = Report.Table(machine, command, options, invocation, pubsub, clock.Elapsed);
Console.WriteLine(report);
if (options.Json)
{
    var json = Report.Json(machine, command, options, invocation, pubsub, clock.Elapsed);
    if (options.JsonFile is { } file)
    {
        await File.WriteAllTextAsync(file, json);
        Console.WriteLine($"JSON written to {file}");
    }
    else
    {
        Console.WriteLine(json);
    }
}

return failed ? 1 : 0;

namespace Platform.Sidecar.Bench
{
    internal sealed record MachineInfo(int Cores, string Cpu, string Os, string Runtime, string Architecture, string Configuration, string Gc)
    {
        /// <summary>The 1-minute load average (runnable threads, all processes) at the start and end of the run.</summary>
        public string Load { get; init; } = "";
    }

    internal static class Machine
    {
#if DEBUG
        public const string Configuration = "Debug";
#else
        public const string Configuration = "Release";
#endif

        /// <summary>The 1-minute load average: on a shared machine, what else competed for the cores.</summary>
        public static string LoadAverage()
        {
            try
            {
                return File.ReadAllText("/proc/loadavg").Split(' ')[0];
            }
            catch (IOException)
            {
                return "?";
            }
            catch (UnauthorizedAccessException)
            {
                return "?";
            }
        }

        public static MachineInfo Describe()
        {
            var cpu = "unknown CPU";
            try
            {
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            var gc = System.Runtime.GCSettings.IsServerGC ? "server GC" : "workstation GC";
            return new MachineInfo(Environment.ProcessorCount, cpu, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
                RuntimeInformation.ProcessArchitecture.ToString(), Configuration, gc);
        }
    }

    /// <summary>The targets the sidecar is held to.</summary>
    internal static class Targets
    {
        public const double AddedP50Ms = 0.5;
        public const double AddedP99Ms = 2.0;
        public const double EventsPerSecond = 20_000;

        public static string Verdict(bool pass) => pass ? "PASS" : "MISS";
    }

    internal static class Report
    {
        public static string Table(MachineInfo m, string command, BenchOptions o, InvocationResult? inv, PubSubResult? ps, TimeSpan took)
        {
            var sb = new StringBuilder();
            sb.AppendLine();
            sb.AppendLine($"Platform sidecar benchmark  {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{(o.Quick ? "  (--quick)" : "")}");
            sb.AppendLine($"machine : {m.Cores} cores, {m.Cpu}, {m.Os}, {m.Architecture}");
            sb.AppendLine($"runtime : {m.Runtime}, {m.Configuration} build, {m.Gc}");
            sb.AppendLine($"load    : 1-min load average {m.Load} (above {m.Cores}: other processes competed for the cores)");
            sb.AppendLine($"command : {command}");
            if (m.Configuration != "Release")
            {
                sb.AppendLine("WARNING : not a Release build; figures are not representative (add -c Release)");
            }

            if (inv is not null)
            {
                sb.AppendLine();
                sb.AppendLine($"Service invocation: POST {inv.BodyBytes} B JSON to an echo app. A = client -> app; B = client -> caller sidecar -> callee sidecar -> app.");
                sb.AppendLine($"  latency: concurrency 1, {inv.Rounds} rounds x {inv.RequestsPerRound} requests per side, A/B interleaved; throughput: concurrency {inv.Concurrency}, {o.ThroughputRounds} rounds x {o.ThroughputSlice.TotalSeconds:0.#} s per side");
                sb.AppendLine($"  warm-up: {inv.Warmup}");
                sb.AppendLine($"  {"",-26}{"A direct",12}{"B sidecars",12}{"B-A added",12}{"B/A",8}  {"target",-18}{"result",6}");
                sb.AppendLine($"  {"latency p50 (ms)",-26}{inv.DirectP50,12:F3}{inv.SidecarP50,12:F3}{inv.AddedP50,12:F3}{inv.LatencyRatioP50,7:F2}x  {"added <= 0.5 ms",-18}{Targets.Verdict(inv.AddedP50 <= Targets.AddedP50Ms),6}");
                sb.AppendLine($"  {"latency p99 (ms)",-26}{inv.DirectP99,12:F3}{inv.SidecarP99,12:F3}{inv.AddedP99,12:F3}{inv.SidecarP99 / inv.DirectP99,7:F2}x  {"added <= 2 ms",-18}{Targets.Verdict(inv.AddedP99 <= Targets.AddedP99Ms),6}");
                sb.AppendLine($"  {$"throughput (req/s, c={inv.Concurrency})",-26}{inv.DirectRps,12:N0}{inv.SidecarRps,12:N0}{"",12}{inv.ThroughputRatio,7:F2}x  {"(reported)",-18}");
                sb.AppendLine($"  per-round req/s  A: {string.Join(" ", inv.DirectRpsPerRound.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}");
                sb.AppendLine($"                   B: {string.Join(" ", inv.SidecarRpsPerRound.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}");
            }

            if (ps is not null)
            {
                sb.AppendLine();
                sb.AppendLine($"Pub/sub on Redis Streams (pubsub.redis, redis-server started for the run): {ps.EventsPerRound:N0} events per round, {ps.Rounds} rounds, A/B interleaved, {ps.EnvelopeBytes} B CloudEvent.");
                sb.AppendLine($"  A = raw Redis Streams loop in-process (pipelined XADD; XREADGROUP COUNT 1000 + XACK per batch), first XADD -> last XACK");
                sb.AppendLine($"  B = publisher app -> publisher sidecar -> Redis -> subscriber sidecar -> subscriber app POST /t, first publish -> last delivery");
                sb.AppendLine($"  publish path: {ps.PublishPath}, {ps.PublishWindow} publishes in flight; warm-up: {ps.Warmup?.ToString() ?? "-"}");
                if (ps.Error is not null)
                {
                    sb.AppendLine($"  ERROR: {ps.Error}");
                }

                sb.AppendLine($"  {"",-26}{"A raw",12}{"B sidecars",12}{"",12}{"B/A",8}  {"target",-18}{"result",6}");
                sb.AppendLine($"  {"events/s end to end",-26}{ps.RawEventsPerSecond,12:N0}{ps.SidecarEventsPerSecond,12:N0}{"",12}{ps.Ratio,7:F2}x  {">= 20,000/s",-18}{Targets.Verdict(ps.Error is null && ps.SidecarEventsPerSecond >= Targets.EventsPerSecond),6}");
                sb.AppendLine($"  {"publish accepted/s (B)",-26}{"",12}{ps.SidecarPublishPerSecond,12:N0}");
                sb.AppendLine($"  {"CPU us per event",-26}{ps.RawCpuMicros,12:F1}{ps.SidecarCpuMicros,12:F1}{"",12}{ps.SidecarCpuMicros / ps.RawCpuMicros,7:F2}x  (this process + redis-server)");
                sb.AppendLine($"  {"cores busy",-26}{ps.RawCores,12:F2}{ps.SidecarCores,12:F2}");
                if (ps.Parts is { } parts)
                {
                    sb.AppendLine($"  breakdown (one round each, B's two halves apart):");
                    sb.AppendLine($"  {"  publish only (events/s)",-26}{"",12}{parts.PublishOnlyPerSecond,12:N0}{"",12}{"",8}  CPU {parts.PublishOnlyCpuMicros:F1} us/event; app -> sidecar -> Redis, topic without subscribers");
                    sb.AppendLine($"  {"  delivery only (events/s)",-26}{"",12}{parts.DeliveryOnlyPerSecond,12:N0}{"",12}{"",8}  CPU {parts.DeliveryOnlyCpuMicros:F1} us/event; entries XADDed raw -> sidecar -> app");
                }

                sb.AppendLine($"  per-round events/s A: {string.Join(" ", ps.RawPerRound.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}");
                sb.AppendLine($"                     B: {string.Join(" ", ps.SidecarPerRound.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}");
                if (ps.RedisCallsPerEvent.Count > 0)
                {
                    sb.AppendLine($"  Redis commands per event in B: {string.Join(", ", ps.RedisCallsPerEvent.Select(c => $"{c.Key} {c.Value:F2}"))}");
                }

                sb.AppendLine($"  duplicates delivered: {ps.Duplicates}; entries left pending (unacknowledged) after the run: {ps.PendingAfter}");
            }

            sb.AppendLine();
            sb.Append($"took {took.TotalSeconds:F1} s");
            return sb.ToString();
        }

        public static string Json(MachineInfo m, string command, BenchOptions o, InvocationResult? inv, PubSubResult? ps, TimeSpan took)
        {
            var doc = new
            {
                date = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                machine = m,
                command,
                quick = o.Quick,
                seconds = Math.Round(took.TotalSeconds, 1),
                invocation = inv is null ? null : new
                {
                    rounds = inv.Rounds,
                    requestsPerRound = inv.RequestsPerRound,
                    concurrency = inv.Concurrency,
                    directP50Ms = inv.DirectP50,
                    directP99Ms = inv.DirectP99,
                    sidecarP50Ms = inv.SidecarP50,
                    sidecarP99Ms = inv.SidecarP99,
                    addedP50Ms = inv.AddedP50,
                    addedP99Ms = inv.AddedP99,
                    latencyRatioP50 = inv.LatencyRatioP50,
                    directRps = inv.DirectRps,
                    sidecarRps = inv.SidecarRps,
                    throughputRatio = inv.ThroughputRatio,
                    warmupSeconds = Math.Round(inv.Warmup.Took.TotalSeconds, 1),
                    jitSettled = inv.Warmup.JitSettled,
                    addedP50Pass = inv.AddedP50 <= Targets.AddedP50Ms,
                    addedP99Pass = inv.AddedP99 <= Targets.AddedP99Ms,
                },
                pubsub = ps is null ? null : new
                {
                    rounds = ps.Rounds,
                    eventsPerRound = ps.EventsPerRound,
                    publishPath = ps.PublishPath,
                    publishWindow = ps.PublishWindow,
                    warmupSeconds = ps.Warmup is null ? (double?)null : Math.Round(ps.Warmup.Took.TotalSeconds, 1),
                    jitSettled = ps.Warmup?.JitSettled,
                    rawEventsPerSecond = Finite(ps.RawEventsPerSecond),
                    sidecarEventsPerSecond = Finite(ps.SidecarEventsPerSecond),
                    sidecarPublishPerSecond = Finite(ps.SidecarPublishPerSecond),
                    ratio = Finite(ps.Ratio),
                    rawCpuMicrosPerEvent = Finite(ps.RawCpuMicros),
                    sidecarCpuMicrosPerEvent = Finite(ps.SidecarCpuMicros),
                    rawCoresBusy = Finite(ps.RawCores),
                    sidecarCoresBusy = Finite(ps.SidecarCores),
                    publishOnlyPerSecond = ps.Parts?.PublishOnlyPerSecond,
                    publishOnlyCpuMicrosPerEvent = ps.Parts?.PublishOnlyCpuMicros,
                    deliveryOnlyPerSecond = ps.Parts?.DeliveryOnlyPerSecond,
                    deliveryOnlyCpuMicrosPerEvent = ps.Parts?.DeliveryOnlyCpuMicros,
                    redisCallsPerEvent = ps.RedisCallsPerEvent,
                    duplicates = ps.Duplicates,
                    pendingAfter = ps.PendingAfter,
                    error = ps.Error,
                    pass = ps.Error is null && ps.SidecarEventsPerSecond >= Targets.EventsPerSecond,
                },
            };
            return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true });
        }

        private static double? Finite(double v) => double.IsFinite(v) ? v : null;
    }
}
