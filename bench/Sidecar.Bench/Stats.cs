using System.Diagnostics;

namespace Platform.Sidecar.Bench;

/// <summary>Latency samples in milliseconds, with nearest-rank percentiles.</summary>
internal sealed class Samples
{
    private readonly List<double> _ms = [];
    private double[]? _sorted;

    public int Count => _ms.Count;

    public void Add(long startTimestamp, long endTimestamp)
    {
        _ms.Add((endTimestamp - startTimestamp) * 1000.0 / Stopwatch.Frequency);
        _sorted = null;
    }

    public double Percentile(double p)
    {
        _sorted ??= [.. _ms.Order()];
        if (_sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100.0 * _sorted.Length);
        return _sorted[Math.Clamp(rank - 1, 0, _sorted.Length - 1)];
    }

    public double Mean => _ms.Count == 0 ? double.NaN : _ms.Average();
}

/// <summary>CPU time of this process plus, optionally, of a helper process.</summary>
internal static class Cpu
{
    public static TimeSpan Now(Func<TimeSpan>? other = null)
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime + (other?.Invoke() ?? TimeSpan.Zero);
    }
}

/// <summary>A count over a measured time, summed over rounds.</summary>
internal sealed class Rate
{
    private readonly List<double> _perRound = [];

    public long Count { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    /// <summary>CPU time used while counting (this process, and redis-server where it takes part).</summary>
    public TimeSpan Cpu { get; private set; }

    public void Add(long count, TimeSpan elapsed, TimeSpan cpu = default)
    {
        Count += count;
        Elapsed += elapsed;
        Cpu += cpu;
        _perRound.Add(count / elapsed.TotalSeconds);
    }

    /// <summary>Total count over total time.</summary>
    public double PerSecond => Elapsed > TimeSpan.Zero ? Count / Elapsed.TotalSeconds : double.NaN;

    public IReadOnlyList<double> PerRound => _perRound;

    /// <summary>Microseconds of CPU per counted item.</summary>
    public double CpuMicrosEach => Count > 0 ? Cpu.TotalMicroseconds / Count : double.NaN;

    /// <summary>Cores kept busy on average while counting.</summary>
    public double CoresBusy => Elapsed > TimeSpan.Zero ? Cpu / Elapsed : double.NaN;
}

/// <summary>Runs warm-up steps until the JIT settles (few methods compiled in the last step) or time runs out.</summary>
internal static class Warmup
{
    public static async Task<WarmupResult> RunAsync(Func<Task> step, TimeSpan min, TimeSpan max, Action<string> progress, string what)
    {
        var clock = Stopwatch.StartNew();
        var steps = 0;
        while (true)
        {
            var before = System.Runtime.JitInfo.GetCompiledMethodCount();
            await step();
            steps++;
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount() - before;
            var settled = compiled <= 25;
            if ((settled && clock.Elapsed >= min) || clock.Elapsed >= max)
            {
                progress($"{what}: warm-up done ({steps} steps, last compiled {compiled} methods)");
                return new WarmupResult(clock.Elapsed, settled);
            }
        }
    }
}

/// <summary>How long warm-up took, and whether the JIT had settled by then (false: cut off by the time limit).</summary>
internal sealed record WarmupResult(TimeSpan Took, bool JitSettled)
{
    public override string ToString() => $"{Took.TotalSeconds:F0} s, {(JitSettled ? "JIT settled" : "JIT still compiling at the time limit")}";
}
