using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Secrets;

/// <summary>
/// A secret store component: the two operations components-contrib's <c>secretstores.SecretStore</c> has and
/// the secrets API uses (<c>GetSecret</c>, <c>BulkGetSecret</c>). Each secret is a map of keys to values.
/// </summary>
public interface ISecretStore
{
    /// <summary>One secret by name; throws <see cref="SecretNotFoundException"/> when the store reports it missing.</summary>
    IReadOnlyDictionary<string, string> Get(string name);

    /// <summary>Every secret the store holds, by name.</summary>
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> BulkGet();
}

/// <summary>The store's own error for a secret it does not have (its message is the one contrib's store gives).</summary>
public sealed class SecretNotFoundException(string message) : Exception(message);

/// <summary>Creates the secret store of a component.</summary>
internal static class SecretStores
{
    public static ISecretStore Open(ComponentResource c) => c.Type switch
    {
        "secretstores.local.file" => LocalFileSecretStore.Open(c),
        "secretstores.local.env" => new EnvSecretStore(c.Get("prefix") ?? ""),
        _ => throw new ResourceException(c.File, "spec.type", $"'{c.Type}' is not a secret store this sidecar implements"),
    };
}
