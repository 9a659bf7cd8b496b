using System.Globalization;

namespace Platform.Sidecar;

/// <summary>Byte sizes written as Kubernetes resource quantities, as daprd takes <c>--max-body-size</c> (<c>4Mi</c>, <c>1k</c>, <c>512</c>).</summary>
public static class Quantity
{
    private static readonly (string Suffix, decimal Factor)[] Suffixes =
    [
        ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("Ti", 1L << 40), ("Pi", 1L << 50), ("Ei", 1L << 60),
        ("k", 1e3m), ("M", 1e6m), ("G", 1e9m), ("T", 1e12m), ("P", 1e15m), ("E", 1e18m),
    ];

    /// <summary>A whole number of bytes (daprd refuses a quantity that is not one, such as <c>1.5</c> or <c>100m</c>).</summary>
    public static bool TryParseBytes(string text, out long bytes)
    {
        bytes = 0;
        var (number, factor) = (text.Trim(), 1m);
        foreach (var (suffix, f) in Suffixes)
        {
            if (number.EndsWith(suffix, StringComparison.Ordinal))
            {
                (number, factor) = (number[..^suffix.Length], f);
                break;
            }
        }

        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        try
        {
            var total = value * factor;
            if (total != decimal.Truncate(total) || total > long.MaxValue)
            {
                return false;
            }

            bytes = (long)total;
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}
