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

/// <summary>A count over a measured time, summed over rounds.</summary>
internal sealed class Rate
{
    private readonly List<double> _perRound = [];

    public long Count { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    public void Add(long count, TimeSpan elapsed)
    {
        Count += count;
        Elapsed += elapsed;
        _perRound.Add(count / elapsed.TotalSeconds);
    }

    /// <summary>Total count over total time.</summary>
    public double PerSecond => Elapsed > TimeSpan.Zero ? Count / Elapsed.TotalSeconds : double.NaN;

    public IReadOnlyList<double> PerRound => _perRound;
}
