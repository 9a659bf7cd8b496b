using System.Diagnostics;
using System.Globalization;
using Platform.Optimizer.Testing;

namespace Platform.Routing.Bench;

/// <summary>
/// The reference point: <c>baseline/sa.c</c>, a plain single-thread simulated annealing in C, compiled with
/// <c>gcc -O2</c> once per run and run once per instance and seed with the same budget as the jobs.
/// </summary>
public static class CBaseline
{
    /// <summary>The compiled binary, or null and why not (no gcc on PATH, or the compile failed).</summary>
    public static (string? Binary, string Why) Compile()
    {
        var source = Path.Combine(OptimizerCluster.RepositoryRoot(), "bench", "Routing.Bench", "baseline", "sa.c");
        var gcc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, "gcc")).FirstOrDefault(File.Exists);
        if (gcc is null)
        {
            return (null, "gcc is not on PATH");
        }

        var binary = Path.Combine(Path.GetTempPath(), $"routing-bench-sa-{Environment.ProcessId}");
        var (code, _, err) = RunProcess(gcc, ["-O2", "-o", binary, source, "-lm"], TimeSpan.FromMinutes(2));
        return code == 0 ? (binary, "") : (null, $"gcc failed: {err.Trim()}");
    }

    /// <summary>One run: its lines "t=S LENGTH" each second and "final LENGTH moves M elapsed_ms E" become a trace.</summary>
    public static async Task<Trace> RunAsync(string binary, string file, int budgetMs, int seed)
    {
        var (code, output, err) = await Task.Run(() => RunProcess(binary, [file, budgetMs.ToString(CultureInfo.InvariantCulture), seed.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromMilliseconds(budgetMs + 60_000)));
        if (code != 0)
        {
            throw new InvalidOperationException($"sa {file} failed ({code}): {err}");
        }

        var points = new List<(long, long)>();
        long final = 0, moves = 0, elapsed = budgetMs;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ');
            if (parts[0].StartsWith("t=", StringComparison.Ordinal))
            {
                points.Add((long.Parse(parts[0][2..], CultureInfo.InvariantCulture) * 1000, long.Parse(parts[1], CultureInfo.InvariantCulture)));
            }
            else if (parts[0] == "final")
            {
                final = long.Parse(parts[1], CultureInfo.InvariantCulture);
                moves = long.Parse(parts[3], CultureInfo.InvariantCulture);
                elapsed = long.Parse(parts[5], CultureInfo.InvariantCulture);
            }
        }

        return new Trace(points, final, moves * 1000.0 / Math.Max(1, elapsed), elapsed);
    }

    private static (int Code, string Output, string Error) RunProcess(string file, string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            throw new TimeoutException($"{file} ran past {timeout}");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
