using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Optimizer.Testing;
using Platform.Routing.Jobs;
using Platform.Tsp;

namespace Platform.Routing.Bench;

/// <summary>How the best length developed in one run: (milliseconds since the start, best length) after each round.</summary>
public sealed record Trace(IReadOnlyList<(long Ms, long Length)> Points, long Final, double MovesPerSecond, long ElapsedMs);

/// <summary>
/// Per instance: a single-threaded annealer in this process (the baseline, same budget, same schedule slices),
/// then jobs through the whole path — a client sidecar, Routing's job actor, its sidecar, two Solver replicas
/// (app-max-concurrency 1 each) — once per splitting strategy, then the better strategy on one replica. Prints the
/// gap to the best known length at the end and the time to within 5 %, 2 % and 1 %, averaged over the seeds, and
/// the gap at each second. When gcc is on PATH, a plain single-thread simulated annealing in C
/// (<c>baseline/sa.c</c>) runs first on the same file with the same budget: every row's gap is also given as a
/// ratio to its gap.
/// </summary>
public sealed class OptimizerBench(BenchOptions options)
{
    // Published optima of TSPLIB instances (TSPLIB 95's solutions list), for files given on the command line.
    private static readonly Dictionary<string, long> TspLibOptima = new(StringComparer.OrdinalIgnoreCase)
    {
        ["att48"] = 10628, ["eil51"] = 426, ["berlin52"] = 7542, ["st70"] = 675, ["eil76"] = 538, ["pr76"] = 108159,
        ["rat99"] = 1211, ["kroA100"] = 21282, ["kroB100"] = 22141, ["kroC100"] = 20749, ["kroD100"] = 21294,
        ["kroE100"] = 22068, ["rd100"] = 7910, ["eil101"] = 629, ["lin105"] = 14379, ["ch130"] = 6110, ["ch150"] = 6528,
        ["rat195"] = 2323, ["d198"] = 15780, ["kroA200"] = 29368, ["tsp225"] = 3916, ["a280"] = 2579,
        ["lin318"] = 42029, ["pr439"] = 107217, ["pcb442"] = 50778, ["d493"] = 35002, ["att532"] = 27686,
        ["rat575"] = 6773, ["p654"] = 34643, ["d657"] = 48912, ["u724"] = 41910, ["rat783"] = 8806, ["pbd984"] = 2797,
        ["pr1002"] = 259045,
    };

    private const string CLabel = "C SA, 1 thread";

    private static readonly double[] Thresholds = [5, 2, 1];

    public async Task<bool> RunAsync()
    {
        var files = options.Files.Count > 0
            ? options.Files
            : Directory.GetFiles(Path.Combine(OptimizerCluster.RepositoryRoot(), "services", "Routing", "instances"), "*.tsp").Order().ToList();
        Console.WriteLine($"Routing.Bench: budget {options.BudgetMs} ms, {options.Seeds} seeds, parallelism {options.Parallelism}, rounds of {options.RoundMs} ms, {Environment.ProcessorCount} cores");
        Console.WriteLine("path: client sidecar -> routing (job actor) -> its sidecar -> solver replicas (app-max-concurrency 1), all in this process");
        Console.WriteLine("gaps are to the best known length; 'to x%' is the mean time until within x% (read at round ends, so never under one round)");
        await using var two = await OptimizerCluster.StartAsync(solvers: 2, solverMaxConcurrency: 1, routing: true, roundMs: options.RoundMs);
        await using var one = options.ScaleOut ? await OptimizerCluster.StartAsync(solvers: 1, solverMaxConcurrency: 1, routing: true, roundMs: options.RoundMs) : null;

        var sa = CBaseline.Compile();
        Console.WriteLine(sa.Binary is null
            ? $"{CLabel}: not run ({sa.Why})"
            : $"{CLabel}: bench/Routing.Bench/baseline/sa.c, compiled with gcc -O2 ({sa.Binary})");
        Console.WriteLine($"load average at start: {LoadAverage()}");
        var gapsByStrategy = options.Strategies.ToDictionary(s => s, _ => new List<double>());
        var ratios = new List<double>();
        var machineRatios = new List<double>();
        foreach (var file in files)
        {
            var text = await File.ReadAllTextAsync(file);
            var instance = TspLib.Parse(text);
            var name = Path.GetFileNameWithoutExtension(file);
            var runs = new List<(string Label, List<Trace> Traces)>
            {
                ("direct, 1 thread", [.. Enumerable.Range(1, options.Seeds).Select(seed => Direct(instance, seed))]),
            };
            if (sa.Binary is { } binary)
            {
                var c = new List<Trace>();
                for (var seed = 1; seed <= options.Seeds; seed++)
                {
                    c.Add(await CBaseline.RunAsync(binary, file, options.BudgetMs, seed));
                }

                runs.Insert(0, (CLabel, c));
            }

            foreach (var strategy in options.Strategies)
            {
                runs.Add(($"{strategy}, 2 replicas", await JobsAsync(two, text, strategy)));
            }

            var best = options.BestKnown.TryGetValue(name, out var b) ? b
                : ShippedInstances.BestKnown(instance.Comment)
                ?? (TspLibOptima.TryGetValue(instance.Name, out var o) || TspLibOptima.TryGetValue(name, out o) ? o : 0);
            var bestLabel = best > 0 ? best.ToString(CultureInfo.InvariantCulture) : "(best of this run)";
            if (best == 0)
            {
                best = runs.SelectMany(r => r.Traces).Min(t => t.Final);
            }

            // The better strategy on this instance: smaller mean gap, then sooner within 1 %.
            var winner = options.Strategies
                .Select(s => (Strategy: s, Traces: runs.First(r => r.Label.StartsWith(s, StringComparison.Ordinal)).Traces))
                .OrderBy(r => Math.Round(MeanGap(r.Traces, best), 4))
                .ThenBy(r => MeanTimeTo(r.Traces, best, 1))
                .First().Strategy;
            (List<Trace> Two, List<Trace> One)? scale = null;
            if (one is not null)
            {
                // 1 and 2 replicas alternately, seed by seed, so a change in the machine's other load hits both alike.
                scale = ([], []);
                var machine = new List<double>();
                for (var seed = 1; seed <= options.Seeds; seed++)
                {
                    scale.Value.Two.Add(await JobAsync(two, text, winner, seed));
                    scale.Value.One.Add(await JobAsync(one, text, winner, seed));
                    machine.Add(MachineParallelism(instance, seed));
                }

                machineRatios.Add(machine.Average());

                runs.Add(($"{winner}, 2 replicas (paired)", scale.Value.Two));
                runs.Add(($"{winner}, 1 replica (paired)", scale.Value.One));
            }

            Console.WriteLine();
            Console.WriteLine($"{name}: {instance.Count} cities, {instance.Metric.Name()}, best known {bestLabel}");
            var cGap = runs.FirstOrDefault(r => r.Label == CLabel).Traces is { } cTraces ? MeanGap(cTraces, best) : (double?)null;
            var seconds = Enumerable.Range(1, Math.Max(1, options.BudgetMs / 1000)).ToList();
            Console.WriteLine($"  {"run",-34} {"mean gap",9} {"worst",8} {"/ C SA",7} {"to 5%",8} {"to 2%",8} {"to 1%",8} {"moves/s",10} {"elapsed",8}  " +
                string.Join(" ", seconds.Select(x => $"{$"at {x}s",7}")));
            foreach (var (label, traces) in runs)
            {
                var gap = MeanGap(traces, best);
                var ratio = cGap is { } cg ? cg > 0 ? $"{gap / cg,6:F2}x" : "   n/a " : "     - ";
                Console.WriteLine($"  {label,-34} {gap,8:F3}% {traces.Max(t => Gap(t.Final, best)),7:F3}% {ratio} " +
                    string.Join(" ", Thresholds.Select(x => $"{TimeTo(traces, best, x),8}")) +
                    $" {traces.Average(t => t.MovesPerSecond) / 1e6,9:F2}M {traces.Average(t => t.ElapsedMs),6:F0}ms  " +
                    string.Join(" ", seconds.Select(x => GapAt(traces, best, x * 1000))));
            }

            Console.WriteLine("  ('/ C SA' is the mean gap over the C SA's mean gap; 'at Ns' the mean gap of the best length known N s into the run)");

            foreach (var strategy in options.Strategies)
            {
                gapsByStrategy[strategy].AddRange(runs.First(r => r.Label.StartsWith(strategy, StringComparison.Ordinal)).Traces.Select(t => Gap(t.Final, best)));
            }

            if (scale is { } paired)
            {
                var (twoReplicas, oneReplica) = paired;
                var ratio = twoReplicas.Average(t => t.MovesPerSecond) / oneReplica.Average(t => t.MovesPerSecond);
                ratios.Add(ratio);
                Console.WriteLine($"  scale-out ({winner}): moves/s 2 replicas / 1 replica = {ratio:F2}x; mean gap {MeanGap(twoReplicas, best):F3}% vs {MeanGap(oneReplica, best):F3}%");
                Console.WriteLine($"  the machine meanwhile: 2 annealing threads / 1 thread in this process = {machineRatios[^1]:F2}x (what 2 replicas can get at most)");
            }
        }

        Console.WriteLine();
        foreach (var (strategy, gaps) in gapsByStrategy.OrderBy(g => g.Value.Average()))
        {
            Console.WriteLine($"strategy {strategy,-12} mean gap over all instances and seeds {gaps.Average():F3}%");
        }

        if (gapsByStrategy.Count >= 2)
        {
            var ordered = gapsByStrategy.OrderBy(g => g.Value.Average()).ToList();
            Console.WriteLine($"winner: {ordered[0].Key}, by {ordered[1].Value.Average() - ordered[0].Value.Average():F3} percentage points of gap over {ordered[1].Key}");
        }

        if (ratios.Count > 0)
        {
            Console.WriteLine($"scale-out: moves/s with 2 replicas / 1 replica, mean over instances = {ratios.Average():F2}x (target >= 1.7); " +
                $"the machine's own 2-thread / 1-thread ratio in the same run = {machineRatios.Average():F2}x");
        }

        return true;
    }

    /// <summary>The baseline: one annealing chain on one thread, the same budget cut into the same schedule slices.</summary>
    private Trace Direct(Instance instance, int seed)
    {
        var annealer = new Annealer(instance);
        var tour = instance.Count > 3000 ? StartTours.SpaceFillingCurve(instance) : StartTours.NearestNeighbour(instance);
        var clock = Stopwatch.StartNew();
        var points = new List<(long, long)>();
        long moves = 0, best = instance.Length(tour);
        while (clock.ElapsedMilliseconds < options.BudgetMs - 30)
        {
            var elapsed = clock.Elapsed.TotalMilliseconds;
            var slice = Math.Min(options.RoundMs, options.BudgetMs - elapsed);
            var result = annealer.Run(tour, new SearchSettings(seed * 7919L + points.Count, TimeSpan.FromMilliseconds(slice), null, elapsed / options.BudgetMs, Math.Min(1, (elapsed + slice) / options.BudgetMs)));
            tour = result.Tour;
            moves += result.Moves;
            best = Math.Min(best, result.Length);
            points.Add((clock.ElapsedMilliseconds, best));
        }

        return new Trace(points, best, moves * 1000.0 / clock.ElapsedMilliseconds, clock.ElapsedMilliseconds);
    }

    /// <summary>
    /// The baseline for the scale-out ratio: moves/s of two annealing threads at once over one thread alone, in this
    /// process, now. On an idle 2-core machine about 2; when other work loads the machine, less — and so the
    /// replicas' ratio.
    /// </summary>
    private double MachineParallelism(Instance instance, int seed)
    {
        var annealer = new Annealer(instance);
        var start = StartTours.NearestNeighbour(instance);
        var slice = TimeSpan.FromMilliseconds(Math.Max(200, options.BudgetMs / 5));
        double Rate(SearchResult r) => r.Moves / r.Elapsed.TotalSeconds;
        var alone = Rate(annealer.Run(start, new SearchSettings(seed, slice)));
        var pair = new SearchResult[2];
        Parallel.For(0, 2, k => pair[k] = annealer.Run(start, new SearchSettings(seed + k, slice)));
        return (Rate(pair[0]) + Rate(pair[1])) / alone;
    }

    private async Task<List<Trace>> JobsAsync(OptimizerCluster cluster, string tsplib, string strategy)
    {
        var traces = new List<Trace>();
        for (var seed = 1; seed <= options.Seeds; seed++)
        {
            traces.Add(await JobAsync(cluster, tsplib, strategy, seed));
        }

        return traces;
    }

    private async Task<Trace> JobAsync(OptimizerCluster cluster, string tsplib, string strategy, int seed)
    {
        using var created = await cluster.Routing.PostAsJsonAsync("jobs", new { tsplib, budgetMs = options.BudgetMs, parallelism = options.Parallelism, strategy, seed });
        created.EnsureSuccessStatusCode();
        var jobId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString();
        JsonElement job;
        while (true)
        {
            await Task.Delay(100);
            job = await cluster.Routing.GetFromJsonAsync<JsonElement>($"jobs/{jobId}");
            if (job.GetProperty("status").GetString() != JobStatus.Running)
            {
                break;
            }
        }

        var history = job.GetProperty("history").EnumerateArray()
            .Select(h => (h.GetProperty("elapsedMs").GetInt64(), h.GetProperty("bestLength").GetInt64()))
            .ToList();
        return new Trace(history, job.GetProperty("bestLength").GetInt64(), job.GetProperty("movesPerSecond").GetDouble(), job.GetProperty("elapsedMs").GetInt64());
    }

    private static double Gap(long length, long best) => 100.0 * (length - best) / best;

    /// <summary>The mean gap of the best length each run knew at <paramref name="ms"/> ("-" if a run had no point by then).</summary>
    private static string GapAt(List<Trace> traces, long best, long ms)
    {
        var at = traces.Select(t => t.Points.Where(p => p.Ms <= ms + 50).Select(p => p.Length).DefaultIfEmpty(0).Min()).ToList();
        return at.Any(l => l == 0) ? $"{"-",7}" : $"{at.Average(l => Gap(l, best)),6:F3}%";
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static double MeanGap(List<Trace> traces, long best) => traces.Average(t => Gap(t.Final, best));

    private static double MeanTimeTo(List<Trace> traces, long best, double x) =>
        traces.Average(t => t.Points.FirstOrDefault(p => Gap(p.Length, best) <= x + 1e-9) is { Ms: > 0 } p ? p.Ms : 1e9);

    /// <summary>Mean time until the best length is within x % of the best known; "never" if a seed never got there.</summary>
    private static string TimeTo(List<Trace> traces, long best, double x)
    {
        var times = traces.Select(t => t.Points.FirstOrDefault(p => Gap(p.Length, best) <= x + 1e-9)).ToList();
        return times.Any(p => p.Ms == 0 && p.Length == 0)
            ? "never"
            : $"{times.Average(p => (double)p.Ms):F0}ms";
    }
}
