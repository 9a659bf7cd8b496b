using System.Diagnostics;
using System.Globalization;
using Platform.EndToEnd.Tests.Infrastructure;
using Platform.Ledger.Bench;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var quick = args.Contains("--quick");
var drainOnly = args.Contains("--drain"); // only the backlog drain (figure 2), for measuring redelivery alone
var commands = quick ? 1_000 : 3_000;
var rebuildAccounts = quick ? 20 : 100;
const int EventsPerAccount = 1_000;
const int Clients = 32;

var loadAtStart = Workloads.LoadAverage();
var clock = Stopwatch.StartNew();
void Progress(string what) => Console.Error.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1}s] {what}");
var report = new List<(string Figure, string Value, string Baseline, string Ratio)>();

Progress($"starting ledger + balances + observer on Redis ({Repo.Configuration} build)");
await using (var platform = await PlatformUnderTest.StartAsync(new PlatformOptions()))
{
    var bench = new Workloads(platform, Clients);
    await bench.OpenAccountsAsync(100);

    // 0. Warm-up, not measured: the command mix once, and each baseline once.
    Progress($"warm-up: {commands / 3} commands and both baselines, not measured");
    await bench.WarmUpAsync(commands / 3);
    await bench.RawInvokeAsync(commands / 3);
    await bench.RawStateAndPublishAsync(commands / 3);

    // 1. Commands/s, against what the same sidecar does per second with no business logic behind it.
    if (!drainOnly)
    {
        Progress("baseline: invocation of /alive through the sidecar");
        var invoke = await bench.RawInvokeAsync(commands);
        Progress("baseline: a state write + a publish through the sidecar");
        var statePublish = await bench.RawStateAndPublishAsync(commands);
        Progress($"{commands} ledger commands from {Clients} clients, with the lag probe");
        var cpuBefore = platform.CpuUsage();
        var (run, lag, lagObserver, deposits) = await bench.CommandsWithLagProbeAsync(commands);
        var cpu = platform.CpuUsage().Zip(cpuBefore, (after, before) => $"{after.Name} {(after.Cpu - before.Cpu).TotalSeconds / run.Elapsed.TotalSeconds:F2}");
        report.Add(("ledger commands/s (32 clients)", $"{run.PerSecond:F0}", $"invoke /alive {invoke.PerSecond:F0}/s", $"{run.PerSecond / invoke.PerSecond:F3}"));
        report.Add(("", "", $"state write + publish {statePublish.PerSecond:F0}/s", $"{run.PerSecond / statePublish.PerSecond:F3}"));
        report.Add(("deposit latency p50 (32 clients)", $"{Stats.Percentile(deposits, 50):F1} ms", $"state write + publish p50 {Stats.Percentile(statePublish.LatencyMs, 50):F1} ms", $"{Stats.Percentile(deposits, 50) / Stats.Percentile(statePublish.LatencyMs, 50):F1}"));
        report.Add(("deposit latency p99", $"{Stats.Percentile(deposits, 99):F1} ms", $"state write + publish p99 {Stats.Percentile(statePublish.LatencyMs, 99):F1} ms", $"{Stats.Percentile(deposits, 99) / Stats.Percentile(statePublish.LatencyMs, 99):F1}"));
        report.Add(("projection lag p50 (occurredAt → visible in Balances)", $"{Stats.Percentile(lag, 50):F0} ms", $"raw delivery to a subscriber {Stats.Percentile(lagObserver, 50):F0} ms", $"{Stats.Percentile(lag, 50) / Math.Max(1, Stats.Percentile(lagObserver, 50)):F1}"));
        report.Add(("projection lag p99", $"{Stats.Percentile(lag, 99):F0} ms", $"raw delivery to a subscriber {Stats.Percentile(lagObserver, 99):F0} ms", $"{Stats.Percentile(lag, 99) / Math.Max(1, Stats.Percentile(lagObserver, 99)):F1}"));
        report.Add(("  (lag samples)", $"{lag.Count}", "", ""));
        report.Add(("  CPU during the commands, in cores", string.Join(", ", cpu), "", ""));
    }

    // 2. Events/s into the read model: a backlog built while the consumers were down, drained after they come back.
    Progress("backlog: Balances killed and the observer stopped while commands run");
    var (backlog, drainObserver, drainBalances) = await bench.BacklogDrainAsync(commands);
    report.Add(("events/s into the read model (backlog drain)", $"{drainBalances.PerSecond:F0}", $"raw subscriber drain {drainObserver.PerSecond:F0}/s", $"{drainBalances.PerSecond / drainObserver.PerSecond:F3}"));
    report.Add(($"  (backlog of {backlog} events)", $"{drainBalances.Events} in {drainBalances.Took.TotalSeconds:F1} s", $"{drainObserver.Events} in {drainObserver.Took.TotalSeconds:F1} s", ""));
    report.Add(("  once flowing (from the first event taken)", $"{drainBalances.FlowingPerSecond:F0}/s", $"raw subscriber {drainObserver.FlowingPerSecond:F0}/s", $"{drainBalances.FlowingPerSecond / Math.Max(1, drainObserver.FlowingPerSecond):F3}"));
}

// 3. Rebuild: a fresh platform whose ledger holds exactly accounts × 1,000 events (loaded into its actor state).
if (!drainOnly)
{
    Progress("starting a fresh platform for the rebuild");
    await using (var platform = await PlatformUnderTest.StartAsync(new PlatformOptions()))
    {
        var rebuild = new RebuildBench(platform);
        Progress($"loading {rebuildAccounts * EventsPerAccount:N0} events into the ledger's actor state");
        await rebuild.LoadAsync(rebuildAccounts, EventsPerAccount);
        Progress("baseline: reading every event back through the ledger's API (twice; the second, warm, counts)");
        await rebuild.ReadAllAsync();
        var read = await rebuild.ReadAllAsync();
        Progress("POST /rebuild on Balances");
        var (took, events) = await rebuild.RebuildAsync();
        report.Add(($"rebuild of {events:N0} events ({rebuildAccounts} accounts)", $"{took.TotalSeconds:F1} s ({events / took.TotalSeconds:F0} events/s)", $"read them through the ledger {read.TotalSeconds:F1} s", $"{took.TotalSeconds / read.TotalSeconds:F2}× the read"));
    }
}

var command = "dotnet run -c Release --project bench/Ledger.Bench" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");
Console.WriteLine();
Console.WriteLine($"Ledger.Bench — {command}");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {loadAtStart} at start, {Workloads.LoadAverage()} at end, {Repo.Configuration} build, {clock.Elapsed.TotalSeconds:F0} s in all");
var widths = new[] { report.Max(r => r.Figure.Length), report.Max(r => r.Value.Length), report.Max(r => r.Baseline.Length) };
Console.WriteLine($"{"figure".PadRight(widths[0])}  {"value".PadRight(widths[1])}  {"baseline (same run)".PadRight(widths[2])}  ratio");
foreach (var (figure, value, baseline, ratio) in report)
{
    Console.WriteLine($"{figure.PadRight(widths[0])}  {value.PadRight(widths[1])}  {baseline.PadRight(widths[2])}  {ratio}");
}

return 0;
