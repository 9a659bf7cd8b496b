namespace Platform.Tsp;

/// <summary>How an edge's length is computed, exactly as TSPLIB's EDGE_WEIGHT_TYPE defines it (TSPLIB 95, section 2).</summary>
public enum Metric
{
    /// <summary>Euclidean distance rounded to the nearest integer (<c>nint</c>) per edge.</summary>
    Euc2D,

    /// <summary>Euclidean distance rounded up per edge.</summary>
    Ceil2D,

    /// <summary>Pseudo-Euclidean: <c>r = sqrt((dx² + dy²) / 10)</c>, <c>t = nint(r)</c>, <c>t &lt; r ? t + 1 : t</c>.</summary>
    Att,
}

public static class Metrics
{
    /// <summary>The TSPLIB keyword for a metric (what the solver's API and the parser use).</summary>
    public static string Name(this Metric metric) => metric switch
    {
        Metric.Euc2D => "EUC_2D",
        Metric.Ceil2D => "CEIL_2D",
        Metric.Att => "ATT",
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };

    public static bool TryParse(string? name, out Metric metric)
    {
        switch (name?.Trim().ToUpperInvariant())
        {
            case "EUC_2D" or null or "":
                metric = Metric.Euc2D;
                return true;
            case "CEIL_2D":
                metric = Metric.Ceil2D;
                return true;
            case "ATT":
                metric = Metric.Att;
                return true;
            default:
                metric = default;
                return false;
        }
    }

    /// <summary>One edge's length. TSPLIB's <c>nint(x)</c> is <c>(int)(x + 0.5)</c> for the non-negative values here.</summary>
    public static int Distance(Metric metric, double x1, double y1, double x2, double y2)
    {
        var dx = x1 - x2;
        var dy = y1 - y2;
        switch (metric)
        {
            case Metric.Euc2D:
                return (int)(Math.Sqrt((dx * dx) + (dy * dy)) + 0.5);
            case Metric.Ceil2D:
                return (int)Math.Ceiling(Math.Sqrt((dx * dx) + (dy * dy)));
            default:
                var r = Math.Sqrt(((dx * dx) + (dy * dy)) / 10.0);
                var t = (int)(r + 0.5);
                return t < r ? t + 1 : t;
        }
    }
}
