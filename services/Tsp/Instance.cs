namespace Platform.Tsp;

/// <summary>A symmetric TSP: cities in the plane and how an edge is measured.</summary>
public sealed class Instance
{
    public Instance(double[] x, double[] y, Metric metric, string name = "cities", string? comment = null)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException("x and y must have the same length", nameof(y));
        }

        X = x;
        Y = y;
        Metric = metric;
        Name = name;
        Comment = comment;
    }

    public string Name { get; }

    public string? Comment { get; }

    public Metric Metric { get; }

    public double[] X { get; }

    public double[] Y { get; }

    public int Count => X.Length;

    public int Distance(int a, int b) => Metrics.Distance(Metric, X[a], Y[a], X[b], Y[b]);

    /// <summary>The closed tour's length (the edge from the last city back to the first included).</summary>
    public long Length(ReadOnlySpan<int> tour)
    {
        long total = 0;
        for (var i = 0; i < tour.Length; i++)
        {
            total += Distance(tour[i], tour[(i + 1) % tour.Length]);
        }

        return total;
    }

    /// <summary>True when the tour visits every city exactly once.</summary>
    public bool IsTour(ReadOnlySpan<int> tour)
    {
        if (tour.Length != Count)
        {
            return false;
        }

        var seen = new bool[Count];
        foreach (var c in tour)
        {
            if ((uint)c >= (uint)Count || seen[c])
            {
                return false;
            }

            seen[c] = true;
        }

        return true;
    }

    public static Instance FromCities(IReadOnlyList<double[]> cities, Metric metric = Metric.Euc2D, string name = "cities")
    {
        var x = new double[cities.Count];
        var y = new double[cities.Count];
        for (var i = 0; i < cities.Count; i++)
        {
            x[i] = cities[i][0];
            y[i] = cities[i][1];
        }

        return new Instance(x, y, metric, name);
    }

    public double[][] Cities()
    {
        var cities = new double[Count][];
        for (var i = 0; i < Count; i++)
        {
            cities[i] = [X[i], Y[i]];
        }

        return cities;
    }
}
