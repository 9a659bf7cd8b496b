using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// A minimal JSON-schema checker for the subset the Kubernetes and CRD schemas use: type, properties, required,
/// additionalProperties, items, enum, oneOf/anyOf/allOf, lengths, minimum, pattern, minItems, nullable and the
/// x-kubernetes int-or-string / preserve-unknown-fields markers. Strict: with <paramref name="closedByDefault"/>
/// (CRD structural schemas, where the API server drops or, with strict field validation, refuses unknown fields)
/// an object schema that lists properties admits no others unless it says so; the Kubernetes "strict" schemas say
/// <c>additionalProperties: false</c> themselves. A keyword it does not know fails loudly rather than being skipped.
/// </summary>
public sealed class SchemaChecker(JsonObject schema, bool closedByDefault)
{
    private static readonly HashSet<string> Known =
    [
        "type", "properties", "additionalProperties", "required", "items", "enum", "oneOf", "anyOf", "allOf", "format",
        "maxLength", "minLength", "minimum", "maximum", "pattern", "minItems", "maxItems", "nullable", "default",
        "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    ];

    public static SchemaChecker Load(string path, bool closedByDefault) =>
        new((JsonObject)JsonNode.Parse(File.ReadAllText(path))!, closedByDefault);

    /// <summary>Every violation, as "path: problem"; empty when the value is valid.</summary>
    public IReadOnlyList<string> Check(JsonNode? value)
    {
        var errors = new List<string>();
        Check(schema, value, "$", errors);
        return errors;
    }

    private void Check(JsonObject s, JsonNode? value, string path, List<string> errors)
    {
        if (s.Select(kv => kv.Key).FirstOrDefault(k => !Known.Contains(k)) is { } unknown)
        {
            throw new NotSupportedException($"schema keyword '{unknown}' at {path} is not implemented by this checker");
        }

        if (value is null)
        {
            if (s["nullable"]?.GetValue<bool>() is not true && !Types(s).Contains("null") && Types(s).Count > 0)
            {
                errors.Add($"{path}: null is not allowed");
            }

            return;
        }

        if (s["x-kubernetes-int-or-string"]?.GetValue<bool>() is true)
        {
            if (!Is(value, "integer") && !Is(value, "string"))
            {
                errors.Add($"{path}: expected an integer or a string");
            }

            return;
        }

        var types = Types(s);
        if (types.Count > 0 && !types.Any(t => Is(value, t)))
        {
            errors.Add($"{path}: expected {string.Join(" or ", types)}, got {value.GetValueKind()}");
            return;
        }

        if (s["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
        {
            errors.Add($"{path}: {value.ToJsonString()} is not one of {allowed.ToJsonString()}");
        }

        CheckCombinators(s, value, path, errors);
        switch (value)
        {
            case JsonObject obj:
                CheckObject(s, obj, path, errors);
                break;
            case JsonArray array:
                CheckArray(s, array, path, errors);
                break;
            case JsonValue scalar when scalar.GetValueKind() is JsonValueKind.String:
                CheckString(s, scalar.GetValue<string>(), path, errors);
                break;
            case JsonValue number when number.GetValueKind() is JsonValueKind.Number:
                if (s["minimum"] is { } min && Number(number) < Number(min))
                {
                    errors.Add($"{path}: below the minimum {min}");
                }

                if (s["maximum"] is { } max && Number(number) > Number(max))
                {
                    errors.Add($"{path}: above the maximum {max}");
                }

                break;
        }
    }

    private void CheckCombinators(JsonObject s, JsonNode value, string path, List<string> errors)
    {
        foreach (var sub in s["allOf"].AsSchemas())
        {
            Check(sub, value, path, errors);
        }

        if (s["anyOf"] is JsonArray anyOf && !anyOf.AsSchemas().Any(sub => Passes(sub, value, path)))
        {
            errors.Add($"{path}: matches none of anyOf");
        }

        if (s["oneOf"] is JsonArray oneOf && oneOf.AsSchemas().Count(sub => Passes(sub, value, path)) != 1)
        {
            errors.Add($"{path}: does not match exactly one of oneOf");
        }
    }

    private bool Passes(JsonObject sub, JsonNode value, string path)
    {
        var errors = new List<string>();
        Check(sub, value, path, errors);
        return errors.Count == 0;
    }

    private void CheckObject(JsonObject s, JsonObject obj, string path, List<string> errors)
    {
        foreach (var name in s["required"].AsStrings().Where(r => !obj.ContainsKey(r)))
        {
            errors.Add($"{path}: required property '{name}' is missing");
        }

        var properties = s["properties"] as JsonObject;
        var preserve = s["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() is true;
        foreach (var (name, child) in obj)
        {
            var childPath = $"{path}.{name}";
            if (properties?[name] is JsonObject propertySchema)
            {
                Check(propertySchema, child, childPath, errors);
            }
            else if (s["additionalProperties"] is JsonObject additional)
            {
                Check(additional, child, childPath, errors);
            }
            else if (s["additionalProperties"] is JsonValue open ? !open.GetValue<bool>() : closedByDefault && properties is not null && !preserve)
            {
                errors.Add($"{childPath}: unknown field");
            }
        }
    }

    private void CheckArray(JsonObject s, JsonArray array, string path, List<string> errors)
    {
        if (s["minItems"] is { } min && array.Count < min.GetValue<int>())
        {
            errors.Add($"{path}: fewer than {min} items");
        }

        if (s["maxItems"] is { } max && array.Count > max.GetValue<int>())
        {
            errors.Add($"{path}: more than {max} items");
        }

        if (s["items"] is JsonObject items)
        {
            for (var i = 0; i < array.Count; i++)
            {
                Check(items, array[i], $"{path}[{i}]", errors);
            }
        }
    }

    private static void CheckString(JsonObject s, string text, string path, List<string> errors)
    {
        if (s["maxLength"] is { } max && text.Length > max.GetValue<int>())
        {
            errors.Add($"{path}: longer than {max}");
        }

        if (s["minLength"] is { } min && text.Length < min.GetValue<int>())
        {
            errors.Add($"{path}: shorter than {min}");
        }

        if (s["pattern"] is { } pattern && !Regex.IsMatch(text, (string)pattern!))
        {
            errors.Add($"{path}: does not match {pattern}");
        }
    }

    /// <summary>A number however it was made: parsed (a JsonElement) or built in code (long, int, double).</summary>
    private static double Number(JsonNode value) =>
        value.AsValue().TryGetValue<long>(out var l) ? l
        : value.AsValue().TryGetValue<int>(out var i) ? i
        : value.GetValue<double>();

    private static List<string> Types(JsonObject s) => s["type"] switch
    {
        JsonArray many => [.. many.AsStrings()],
        JsonValue one => [(string)one!],
        _ => [],
    };

    private static bool Is(JsonNode value, string type) => (type, value.GetValueKind()) switch
    {
        ("object", JsonValueKind.Object) => true,
        ("array", JsonValueKind.Array) => true,
        ("string", JsonValueKind.String) => true,
        ("boolean", JsonValueKind.True or JsonValueKind.False) => true,
        ("number", JsonValueKind.Number) => true,
        ("integer", JsonValueKind.Number) => Number(value) is var d && Math.Floor(d) == d,
        ("null", JsonValueKind.Null) => true,
        _ => false,
    };
}

internal static class SchemaNodes
{
    public static IEnumerable<JsonObject> AsSchemas(this JsonNode? node) => node?.AsArray().OfType<JsonObject>() ?? [];

    public static IEnumerable<string> AsStrings(this JsonNode? node) => node?.AsArray().Select(n => (string?)n).OfType<string>() ?? [];
}
