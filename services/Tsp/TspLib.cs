using System.Globalization;

namespace Platform.Tsp;

/// <summary>A TSPLIB file that cannot be read, with the line that says why.</summary>
public sealed class TspLibException(int line, string message)
    : FormatException(line > 0 ? $"line {line}: {message}" : message)
{
    public int Line { get; } = line;
}

/// <summary>
/// Reads TSPLIB 95 files of type TSP with coordinates: EDGE_WEIGHT_TYPE EUC_2D, CEIL_2D or ATT. Tolerant of what the
/// real files do — spaces (or none) around the colon, lower-case keywords, leading blanks and tabs, scientific
/// notation, CRLF, a missing EOF, unknown specification keywords, DISPLAY_DATA_SECTION — and strict about
/// what would change the answer: other edge-weight types, 3-D or explicit weights, a node count that differs
/// from DIMENSION, duplicate node numbers.
/// </summary>
public static class TspLib
{
    public const int MaxCities = 100_000;

    private static readonly string[] Supported = ["EUC_2D", "CEIL_2D", "ATT"];

    public static Instance Parse(string text)
    {
        string name = "tsplib", type = "TSP";
        string? comment = null;
        string? weightType = null;
        int? dimension = null;
        var lines = text.Split('\n');
        var coordinatesAt = -1;
        for (var l = 0; l < lines.Length; l++)
        {
            var line = lines[l].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var keyword = (colon >= 0 ? line[..colon] : line).Trim().ToUpperInvariant();
            var value = colon >= 0 ? line[(colon + 1)..].Trim() : "";
            switch (keyword)
            {
                case "NAME":
                    name = value;
                    break;
                case "COMMENT":
                    comment = comment is null ? value : $"{comment}\n{value}";
                    break;
                case "TYPE":
                    type = value.ToUpperInvariant();
                    if (type is not ("TSP" or "TSP (M.~HOFMEISTER)"))
                    {
                        throw new TspLibException(l + 1, $"TYPE '{value}' is not supported: only symmetric TSP instances (TYPE : TSP)");
                    }

                    break;
                case "DIMENSION":
                    if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var d) || d < 1)
                    {
                        throw new TspLibException(l + 1, $"DIMENSION '{value}' is not a positive whole number");
                    }

                    if (d > MaxCities)
                    {
                        throw new TspLibException(l + 1, $"DIMENSION {d} is more than the {MaxCities} cities supported");
                    }

                    dimension = d;
                    break;
                case "EDGE_WEIGHT_TYPE":
                    weightType = value.ToUpperInvariant();
                    if (!Supported.Contains(weightType))
                    {
                        throw new TspLibException(l + 1, $"EDGE_WEIGHT_TYPE '{value}' is not supported (supported: {string.Join(", ", Supported)})");
                    }

                    break;
                case "NODE_COORD_TYPE":
                    if (!value.Equals("TWOD_COORDS", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new TspLibException(l + 1, $"NODE_COORD_TYPE '{value}' is not supported: only TWOD_COORDS");
                    }

                    break;
                case "EDGE_WEIGHT_SECTION" or "EDGE_WEIGHT_FORMAT" or "FIXED_EDGES_SECTION":
                    throw new TspLibException(l + 1, $"{keyword} is not supported: only instances given by 2-D coordinates");
                case "NODE_COORD_SECTION":
                    coordinatesAt = l + 1;
                    l = lines.Length;
                    break;
                case "EOF":
                    l = lines.Length;
                    break;
                default:
                    // Other specification keywords (CAPACITY, DISPLAY_DATA_TYPE, ...) do not change a TSP tour.
                    break;
            }
        }

        if (weightType is null)
        {
            throw new TspLibException(0, "EDGE_WEIGHT_TYPE is missing (supported: EUC_2D, CEIL_2D, ATT)");
        }

        if (coordinatesAt < 0)
        {
            throw new TspLibException(0, "NODE_COORD_SECTION is missing");
        }

        var ids = new Dictionary<long, int>();
        var x = new List<double>();
        var y = new List<double>();
        for (var l = coordinatesAt; l < lines.Length; l++)
        {
            var line = lines[l].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line.Equals("EOF", StringComparison.OrdinalIgnoreCase) || char.IsLetter(line[0]))
            {
                break; // EOF, or the next section (DISPLAY_DATA_SECTION, TOUR_SECTION): the coordinates are done
            }

            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3)
            {
                throw new TspLibException(l + 1, $"a node line is 'number x y', not '{line}'");
            }

            if (!long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var id))
            {
                throw new TspLibException(l + 1, $"node number '{parts[0]}' is not a whole number");
            }

            if (!ids.TryAdd(id, x.Count))
            {
                throw new TspLibException(l + 1, $"node {id} is given twice");
            }

            x.Add(Coordinate(parts[1], l + 1));
            y.Add(Coordinate(parts[2], l + 1));
            if (x.Count > MaxCities)
            {
                throw new TspLibException(l + 1, $"more than the {MaxCities} cities supported");
            }
        }

        if (dimension is { } expected && expected != x.Count)
        {
            throw new TspLibException(0, $"DIMENSION is {expected} but NODE_COORD_SECTION has {x.Count} nodes");
        }

        if (x.Count < 3)
        {
            throw new TspLibException(0, $"a tour needs at least 3 cities, the file has {x.Count}");
        }

        Metrics.TryParse(weightType, out var metric);
        return new Instance([.. x], [.. y], metric, name, comment);
    }

    /// <summary>Writes an instance as TSPLIB text (what the shipped instances are).</summary>
    public static string Write(Instance instance, string? comment = null)
    {
        var w = new System.Text.StringBuilder();
        w.Append(CultureInfo.InvariantCulture, $"NAME : {instance.Name}\n");
        if ((comment ?? instance.Comment) is { } c)
        {
            foreach (var line in c.Split('\n'))
            {
                w.Append(CultureInfo.InvariantCulture, $"COMMENT : {line}\n");
            }
        }

        w.Append(CultureInfo.InvariantCulture, $"TYPE : TSP\nDIMENSION : {instance.Count}\nEDGE_WEIGHT_TYPE : {instance.Metric.Name()}\nNODE_COORD_SECTION\n");
        for (var i = 0; i < instance.Count; i++)
        {
            w.Append(CultureInfo.InvariantCulture, $"{i + 1} {instance.X[i]:R} {instance.Y[i]:R}\n");
        }

        return w.Append("EOF\n").ToString();
    }

    private static double Coordinate(string text, int line) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v
            : throw new TspLibException(line, $"coordinate '{text}' is not a finite number");
}
