using Platform.Sidecar.Api;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Secrets;

/// <summary>
/// The secrets API's two operations, shared by HTTP and gRPC, as dapr/dapr <c>pkg/api/universal/secrets.go</c>
/// does them: the store is checked (<c>ERR_SECRET_STORES_NOT_CONFIGURED</c> with none at all,
/// <c>ERR_SECRET_STORE_NOT_FOUND</c>), then the Configuration's secret scopes (a refused get is
/// <c>ERR_PERMISSION_DENIED</c>; a bulk read leaves refused secrets out), then the store (its failure is
/// <c>ERR_SECRET_GET</c>).
/// </summary>
public sealed class SecretsService(Components components, SecretScopes scopes)
{
    /// <summary>One secret: its keys and values.</summary>
    public IReadOnlyDictionary<string, string> Get(string storeName, string key)
    {
        var store = components.SecretStore(storeName);
        if (!scopes.Allows(storeName, key))
        {
            throw DaprError.SecretPermissionDenied(key, storeName);
        }

        try
        {
            return store.Get(key);
        }
        catch (SecretNotFoundException e)
        {
            throw DaprError.SecretGet(key, storeName, e.Message);
        }
    }

    /// <summary>Every secret of the store the scopes allow, by name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> BulkGet(string storeName)
    {
        var store = components.SecretStore(storeName);
        return store.BulkGet().Where(p => scopes.Allows(storeName, p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }
}
