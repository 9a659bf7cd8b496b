using YamlDotNet.RepresentationModel;

namespace Platform.Host.Topology;

/// <summary>Something wrong in a YAML file, and where.</summary>
public sealed record YamlProblem(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>
/// What a YAML node may look like: which keys a mapping accepts and what each holds. The tools that read
/// tye.yaml and dapr.yaml are described this way (see <see cref="TyeKeys"/>, <see cref="DaprRunKeys"/>), so one
/// walker can report every key they would reject or ignore, with its line.
/// </summary>
internal abstract record Shape
{
    public static readonly Shape Scalar = new ScalarShape();

    /// <summary>Anything at all (for extensions whose keys Tye hands over unchecked).</summary>
    public static readonly Shape Any = new AnyShape();

    public static Shape Map(params (string Key, Shape Value)[] keys) =>
        new MapShape(keys.ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal));

    public static Shape Seq(Shape item) => new SeqShape(item);

    /// <summary>A mapping with free keys, each value of one shape.</summary>
    public static Shape Dict(Shape value) => new DictShape(value);

    /// <summary>A scalar, or a mapping of the given shape.</summary>
    public static Shape ScalarOr(Shape mapping) => new ScalarOrShape(mapping);
}

internal sealed record ScalarShape : Shape;

internal sealed record AnyShape : Shape;

internal sealed record MapShape(IReadOnlyDictionary<string, Shape> Keys) : Shape;

internal sealed record SeqShape(Shape Item) : Shape;

internal sealed record DictShape(Shape Value) : Shape;

internal sealed record ScalarOrShape(Shape Mapping) : Shape;

/// <summary>
/// A mapping whose allowed keys depend on the value of its <c>name</c> key (Tye's <c>extensions</c> entries);
/// a <c>null</c> shape means the extension takes any keys.
/// </summary>
internal sealed record ByNameShape(string What, IReadOnlyDictionary<string, Shape?> Variants) : Shape;

internal static class ShapeChecker
{
    /// <summary>Every place where <paramref name="root"/> does not fit <paramref name="shape"/>.</summary>
    public static List<YamlProblem> Check(YamlNode root, Shape shape, string file, string tool)
    {
        var problems = new List<YamlProblem>();
        Walk(root, shape, "", problems, file, tool);
        return problems;
    }

    /// <summary>Loads a single-document YAML file; a syntax error becomes a problem with its position.</summary>
    public static YamlNode? Load(string text, string file, List<YamlProblem> problems)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            problems.Add(new YamlProblem(file, (int)e.Start.Line, (int)e.Start.Column, $"not valid YAML: {e.InnerException?.Message ?? e.Message}"));
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            problems.Add(new YamlProblem(file, 1, 1, "the file is empty"));
            return null;
        }

        return stream.Documents[0].RootNode;
    }

    private static void Walk(YamlNode node, Shape shape, string where, List<YamlProblem> problems, string file, string tool)
    {
        switch (shape)
        {
            case AnyShape:
                return;
            case ScalarShape when node is not YamlScalarNode:
                Add(node, $"{Describe(where)} must be a single value, not a {Kind(node)}");
                return;
            case ScalarShape:
                return;
            case ScalarOrShape s:
                if (node is not YamlScalarNode)
                {
                    Walk(node, s.Mapping, where, problems, file, tool);
                }

                return;
            case SeqShape s:
                if (node is not YamlSequenceNode seq)
                {
                    Add(node, $"{Describe(where)} must be a list, not a {Kind(node)}");
                    return;
                }

                for (var i = 0; i < seq.Children.Count; i++)
                {
                    Walk(seq.Children[i], s.Item, $"{where}[{i}]", problems, file, tool);
                }

                return;
            case DictShape d:
                if (node is not YamlMappingNode dict)
                {
                    Add(node, $"{Describe(where)} must be a mapping, not a {Kind(node)}");
                    return;
                }

                foreach (var (key, value) in dict.Children)
                {
                    Walk(value, d.Value, Join(where, Text(key)), problems, file, tool);
                }

                return;
            case MapShape m:
                if (node is not YamlMappingNode map)
                {
                    Add(node, $"{Describe(where)} must be a mapping, not a {Kind(node)}");
                    return;
                }

                CheckMapping(map, m.Keys, where, problems, file, tool);
                return;
            case ByNameShape b:
                if (node is not YamlMappingNode named)
                {
                    Add(node, $"{Describe(where)} must be a mapping, not a {Kind(node)}");
                    return;
                }

                var name = named.Children.FirstOrDefault(c => Text(c.Key) == "name").Value as YamlScalarNode;
                if (name?.Value is not { Length: > 0 } variant)
                {
                    Add(node, $"{Describe(where)} has no 'name'");
                    return;
                }

                if (!b.Variants.TryGetValue(variant, out var variantShape))
                {
                    Add(name, $"{tool} has no {b.What} '{variant}' (it knows: {string.Join(", ", b.Variants.Keys)})");
                    return;
                }

                if (variantShape is MapShape variantMap)
                {
                    CheckMapping(named, variantMap.Keys, $"{where} ({variant})", problems, file, tool);
                }

                return;
        }

        void Add(YamlNode at, string message) =>
            problems.Add(new YamlProblem(file, (int)at.Start.Line, (int)at.Start.Column, message));
    }

    private static void CheckMapping(YamlMappingNode map, IReadOnlyDictionary<string, Shape> keys, string where, List<YamlProblem> problems, string file, string tool)
    {
        foreach (var (keyNode, value) in map.Children)
        {
            var key = Text(keyNode);
            if (!keys.TryGetValue(key, out var valueShape))
            {
                var near = keys.Keys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
                var hint = near is null ? "" : $" (did you mean '{near}'? keys are case-sensitive)";
                problems.Add(new YamlProblem(file, (int)keyNode.Start.Line, (int)keyNode.Start.Column,
                    $"unrecognized key '{key}' in {Describe(where)}{hint}; {tool} accepts: {string.Join(", ", keys.Keys)}"));
                continue;
            }

            Walk(value, valueShape, Join(where, key), problems, file, tool);
        }
    }

    private static string Text(YamlNode node) => node is YamlScalarNode { Value: { } v } ? v : node.ToString();

    private static string Join(string where, string key) => where.Length == 0 ? key : $"{where}.{key}";

    private static string Describe(string where) => where.Length == 0 ? "the top level" : $"'{where}'";

    private static string Kind(YamlNode node) => node switch
    {
        YamlMappingNode => "mapping",
        YamlSequenceNode => "list",
        _ => "single value",
    };
}
