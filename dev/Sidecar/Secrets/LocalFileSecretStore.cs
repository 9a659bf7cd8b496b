using System.Text.Json;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Secrets;

/// <summary>
/// <c>secretstores.local.file</c>: a JSON file whose nested objects are flattened with <c>nestedSeparator</c>
/// (default ":"), as components-contrib's local file store does. With <c>multiValued: "true"</c> each
/// top-level key is one secret holding its (flattened) children; otherwise each flattened key is a secret
/// with a single key of the same name.
/// </summary>
public sealed class LocalFileSecretStore : ISecretStore
{
    private readonly Dictionary<string, Dictionary<string, string>> _secrets;

    private LocalFileSecretStore(Dictionary<string, Dictionary<string, string>> secrets) => _secrets = secrets;


    internal static LocalFileSecretStore Open(ComponentResource c)
    {
        var path = c.Get("secretsFile")!;
        var candidates = Path.IsPathRooted(path) ? [path] : new[] { Path.GetFullPath(path), Path.Combine(Path.GetDirectoryName(c.File)!, path) };
        var file = candidates.FirstOrDefault(File.Exists)
            ?? throw new ResourceException(c.File, "spec.metadata[secretsFile]", $"secret store '{c.Name}': file '{path}' not found");
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(File.ReadAllText(file)).RootElement;
        }
        catch (JsonException e)
        {
            throw new ResourceException(c.File, "spec.metadata[secretsFile]", $"secret store '{c.Name}': {file} is not valid JSON ({e.Message})");
        }

        var separator = c.Get("nestedSeparator") ?? ":";
        var multi = string.Equals(c.Get("multiValued"), "true", StringComparison.OrdinalIgnoreCase);
        var secrets = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        if (multi)
        {
            foreach (var p in root.EnumerateObject())
            {
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                Flatten(p.Value, "", separator, values);
                secrets[p.Name] = values;
            }
        }
        else
        {
            var flat = new Dictionary<string, string>(StringComparer.Ordinal);
            Flatten(root, "", separator, flat);
            foreach (var (k, v) in flat)
            {
                secrets[k] = new Dictionary<string, string>(StringComparer.Ordinal) { [k] = v };
            }
        }

        return new LocalFileSecretStore(secrets);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Get(string name) =>
        _secrets.TryGetValue(name, out var v) ? v : throw new SecretNotFoundException($"secret {name} not found");

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> BulkGet() =>
        _secrets.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, string>)p.Value, StringComparer.Ordinal);

    private static void Flatten(JsonElement e, string prefix, string separator, Dictionary<string, string> into)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + separator + p.Name, separator, into);
            }
        }
        else
        {
            into[prefix] = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
        }
    }
}
