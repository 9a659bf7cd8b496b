using System.Text.RegularExpressions;
using Platform.Tsp;

namespace Platform.Routing.Jobs;

public sealed record ShippedInstance(string Name, int Cities, string Metric, long? BestKnown, string? Comment);

/// <summary>The instances in <c>instances/*.tsp</c> (generated for this project), by name; read once.</summary>
public sealed partial class ShippedInstances
{
    private readonly Lazy<IReadOnlyDictionary<string, Instance>> _all = new(Load);

    public IReadOnlyDictionary<string, Instance> All => _all.Value;

    public IEnumerable<ShippedInstance> List() =>
        All.Values.OrderBy(i => i.Count).Select(i => new ShippedInstance(i.Name, i.Count, i.Metric.Name(), BestKnown(i.Comment), i.Comment));

    /// <summary>The best length known for an instance, from a <c>COMMENT : best known N</c> line.</summary>
    public static long? BestKnown(string? comment) =>
        comment is not null && BestKnownLine().Match(comment) is { Success: true } m ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    private static Dictionary<string, Instance> Load()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "instances");
        var all = new Dictionary<string, Instance>(StringComparer.OrdinalIgnoreCase);
        if (Directory.Exists(folder))
        {
            foreach (var file in Directory.EnumerateFiles(folder, "*.tsp"))
            {
                all[Path.GetFileNameWithoutExtension(file)] = TspLib.Parse(File.ReadAllText(file));
            }
        }

        return all;
    }

    [GeneratedRegex(@"best known (?:length )?(\d+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BestKnownLine();
}
