using Platform.Optimizer.Testing;
using Platform.Tsp;

namespace Platform.Solver.Tests;

/// <summary>The search itself: exact metrics, tours that stay tours, lengths that match, reproducibility, optimality on small cases.</summary>
public sealed class AnnealerTests
{
    private static Instance Random(int n, int seed, Metric metric = Metric.Euc2D)
    {
        var r = new System.Random(seed);
        var x = new double[n];
        var y = new double[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = r.Next(0, 1000);
            y[i] = r.Next(0, 1000);
        }

        return new Instance(x, y, metric);
    }

    [Theory]
    [InlineData(Metric.Euc2D, 0, 0, 3, 4, 5)]
    [InlineData(Metric.Euc2D, 0, 0, 1, 1, 1)]      // 1.414 rounds down
    [InlineData(Metric.Euc2D, 0, 0, 1.5, 1.5, 2)]  // 2.121
    [InlineData(Metric.Euc2D, 0, 0, 2.5, 0, 3)]    // nint(2.5) = 3
    [InlineData(Metric.Ceil2D, 0, 0, 1, 1, 2)]
    [InlineData(Metric.Att, 0, 0, 3, 4, 2)]        // r = 1.58, t = 2 >= r
    [InlineData(Metric.Att, 0, 0, 10, 0, 4)]       // r = 3.16, t = 3 < r, so 4
    [InlineData(Metric.Att, 6734, 1453, 2233, 10, 1495)] // att48 cities 1 and 2
    public void Distance_IsTsplibs(Metric metric, double x1, double y1, double x2, double y2, int expected) =>
        Assert.Equal(expected, Metrics.Distance(metric, x1, y1, x2, y2));

    [Theory]
    [InlineData(5, Metric.Euc2D)]
    [InlineData(6, Metric.Att)]
    [InlineData(8, Metric.Euc2D)]
    [InlineData(40, Metric.Att)]
    [InlineData(300, Metric.Euc2D)]
    public void Run_TrackedLength_MatchesTheTourItReturns(int n, Metric metric)
    {
        var instance = Random(n, n, metric);
        var annealer = new Annealer(instance);
        var start = StartTours.NearestNeighbour(instance);
        for (var seed = 1; seed <= 5; seed++)
        {
            var result = annealer.Run(start, new SearchSettings(seed, TimeSpan.FromSeconds(10), MaxMoves: 200_000));

            Assert.True(instance.IsTour(result.Tour));
            Assert.Equal(instance.Length(result.Tour), result.Length);
            Assert.True(result.Length <= instance.Length(start));
            Assert.Equal(200_000, result.Moves);
        }
    }

    [Fact]
    public void Run_LargeInstanceWithoutMatrix_StaysExact()
    {
        var instance = Random(Annealer.MatrixLimit + 100, 7);
        var result = new Annealer(instance).Run(StartTours.SpaceFillingCurve(instance), new SearchSettings(1, TimeSpan.FromSeconds(10), MaxMoves: 300_000));

        Assert.True(instance.IsTour(result.Tour));
        Assert.Equal(instance.Length(result.Tour), result.Length);
    }

    [Fact]
    public void Run_SameSeedAndMoveCount_SameTour()
    {
        var instance = Random(120, 3);
        var annealer = new Annealer(instance);
        var start = StartTours.NearestNeighbour(instance);
        var settings = new SearchSettings(42, TimeSpan.FromSeconds(30), MaxMoves: 500_000);

        var a = annealer.Run(start, settings);
        var b = annealer.Run(start, settings);
        var c = annealer.Run(start, settings with { Seed = 43 });

        Assert.Equal(a.Tour, b.Tour);
        Assert.Equal(a.Length, b.Length);
        Assert.Equal(a.Accepted, b.Accepted);
        Assert.NotEqual(a.Accepted, c.Accepted);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Run_SmallInstance_FindsTheOptimum(int seed)
    {
        var instance = Random(11, 100 + seed);
        var optimum = Exact.HeldKarp(instance);

        var result = new Annealer(instance).Run(StartTours.SpaceFillingCurve(instance), new SearchSettings(seed, TimeSpan.FromSeconds(30), MaxMoves: 2_000_000));

        Assert.Equal(optimum, result.Length);
    }

    [Theory]
    [InlineData(Metric.Euc2D)]
    [InlineData(Metric.Att)]
    public void Run_ColdSliceIsTheLocalSearch_ExactShorterAndReproducible(Metric metric)
    {
        // A slice past AnnealShare runs only the iterated local search (Lin–Kernighan chains, Or-opt, kicks).
        var instance = Random(500, 21, metric);
        var annealer = new Annealer(instance);
        var start = StartTours.NearestNeighbour(instance);
        var settings = new SearchSettings(5, TimeSpan.FromSeconds(30), MaxMoves: 300_000, ScheduleFrom: 0.8, ScheduleTo: 1);

        var a = annealer.Run(start, settings);
        var b = annealer.Run(start, settings);

        Assert.True(instance.IsTour(a.Tour));
        Assert.Equal(instance.Length(a.Tour), a.Length);
        Assert.Equal(300_000, a.Moves);
        Assert.True(a.Length < instance.Length(start) * 0.95, $"{a.Length} is not 5 % under the start's {instance.Length(start)}");
        Assert.Equal(a.Tour, b.Tour);
    }

    [Fact]
    public void Run_CancelledToken_StopsAtOnce()
    {
        var instance = Random(200, 9);
        var result = new Annealer(instance).Run(StartTours.NearestNeighbour(instance), new SearchSettings(1, TimeSpan.FromSeconds(30)), cancellationToken: new CancellationToken(true));

        Assert.Equal(0, result.Moves);
        Assert.True(instance.IsTour(result.Tour));
    }

    [Fact]
    public void SpaceFillingCurve_IsATour()
    {
        var instance = Random(1000, 11);
        Assert.True(instance.IsTour(StartTours.SpaceFillingCurve(instance)));
        Assert.True(instance.IsTour(StartTours.NearestNeighbour(instance)));
    }
}
