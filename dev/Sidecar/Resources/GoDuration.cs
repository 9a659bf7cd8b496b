using System.Globalization;
using System.Text.RegularExpressions;

namespace Platform.Sidecar.Resources;

/// <summary>Parses durations the way Dapr's YAML writes them (Go's <c>time.ParseDuration</c>: "1h2m3s", "150ms").</summary>
internal static partial class GoDuration
{
    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", RegexOptions.CultureInvariant)]
    private static partial Regex Part();

    /// <param name="text">the value from YAML</param>
    /// <param name="bareNumberUnit">what a plain number means (Dapr's redis components read it as milliseconds)</param>
    /// <param name="value">the duration read</param>
    public static bool TryParse(string text, TimeSpan bareNumberUnit, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            value = bareNumberUnit * bare;
            return bare >= 0;
        }

        var total = 0.0;
        var consumed = 0;
        foreach (Match m in Part().Matches(text))
        {
            if (m.Index != consumed)
            {
                return false;
            }

            consumed += m.Length;
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "h" => n * 3_600_000,
                "m" => n * 60_000,
                "s" => n * 1000,
                "ms" => n,
                "us" or "µs" => n / 1000,
                _ => n / 1_000_000,
            };
        }

        if (consumed != text.Length)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(total);
        return true;
    }
}
