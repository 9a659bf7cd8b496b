using Platform.Tsp;

namespace Platform.Optimizer.Testing;

/// <summary>Exact answers to check the search against.</summary>
public static class Exact
{
    /// <summary>The exact optimum by dynamic programming over subsets (fine for a dozen cities).</summary>
    public static long HeldKarp(Instance instance)
    {
        var n = instance.Count;
        var full = 1 << (n - 1);
        var best = new long[full, n];
        for (var s = 0; s < full; s++)
        {
            for (var j = 0; j < n; j++)
            {
                best[s, j] = long.MaxValue / 2;
            }
        }

        for (var j = 1; j < n; j++)
        {
            best[1 << (j - 1), j] = instance.Distance(0, j);
        }

        for (var s = 1; s < full; s++)
        {
            for (var j = 1; j < n; j++)
            {
                if ((s & (1 << (j - 1))) == 0 || best[s, j] >= long.MaxValue / 2)
                {
                    continue;
                }

                for (var k = 1; k < n; k++)
                {
                    if ((s & (1 << (k - 1))) == 0)
                    {
                        var t = s | (1 << (k - 1));
                        best[t, k] = Math.Min(best[t, k], best[s, j] + instance.Distance(j, k));
                    }
                }
            }
        }

        var optimum = long.MaxValue;
        for (var j = 1; j < n; j++)
        {
            optimum = Math.Min(optimum, best[full - 1, j] + instance.Distance(j, 0));
        }

        return optimum;
    }
}
