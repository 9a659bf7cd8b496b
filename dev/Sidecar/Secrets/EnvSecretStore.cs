using System.Collections;

namespace Platform.Sidecar.Secrets;

/// <summary>
/// <c>secretstores.local.env</c>: the sidecar's environment variables as secrets, as components-contrib
/// <c>secretstores/local/env/envstore.go</c> reads them. Its one option, <c>prefix</c>, is put before the
/// requested name, limits a bulk read to the variables that start with it (case-sensitively, as on Linux and
/// macOS; case-insensitively on Windows), and is removed from the names a bulk read returns. A secret is
/// <c>{name: value}</c>. A variable that is not set is an empty value, not an error (contrib's GetSecret).
/// <c>APP_API_TOKEN</c> and every <c>DAPR_*</c> variable (any case) are never handed out: a get returns an
/// empty value, a bulk read leaves them out (contrib's <c>isKeyAllowed</c>).
/// </summary>
public sealed class EnvSecretStore(string prefix) : ISecretStore
{
    private static readonly StringComparison PrefixComparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Get(string name)
    {
        var variable = prefix + name;
        var value = IsAllowed(variable) ? Environment.GetEnvironmentVariable(variable) ?? "" : "";
        return new Dictionary<string, string>(StringComparer.Ordinal) { [name] = value };
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> BulkGet()
    {
        var secrets = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            // contrib skips a variable no longer than the prefix, so a bare prefix is not a secret named "".
            if ((prefix.Length > 0 && (key.Length <= prefix.Length || !key.StartsWith(prefix, PrefixComparison))) || !IsAllowed(key))
            {
                continue;
            }

            var name = key[prefix.Length..];
            secrets[name] = new Dictionary<string, string>(StringComparer.Ordinal) { [name] = (string?)e.Value ?? "" };
        }

        return secrets;
    }

    private static bool IsAllowed(string variable) =>
        !variable.Equals("APP_API_TOKEN", StringComparison.OrdinalIgnoreCase) && !variable.StartsWith("DAPR_", StringComparison.OrdinalIgnoreCase);
}
