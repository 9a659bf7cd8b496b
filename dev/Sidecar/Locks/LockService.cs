using Grpc.Core;
using Platform.Sidecar.Api;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Locks;

/// <summary>
/// The distributed lock API's two operations, shared by HTTP and gRPC as daprd shares them
/// (dapr/dapr <c>pkg/api/universal/lock.go</c>): validation in daprd's order, the key prefix of
/// <c>pkg/components/lock/lock_config.go</c>, and daprd's errors (<c>pkg/messages/predefined.go</c>).
/// </summary>
public sealed class LockService(Components components, string appId)
{
    public async Task<bool> TryLockAsync(string storeName, string resourceId, string lockOwner, int expiryInSeconds, CancellationToken ct)
    {
        // daprd checks the expiry before anything else, even before whether any lock store exists.
        if (expiryInSeconds <= 0)
        {
            throw LockErrors.ExpiryNotPositive(storeName);
        }

        var (resource, store) = Find(storeName, resourceId, lockOwner);
        var key = Key(resource, resourceId) ?? throw LockErrors.TryLockFailed(IllegalKey(resourceId));
        try
        {
            return await store.TryLockAsync(key, lockOwner, expiryInSeconds, ct);
        }
        catch (Exception e) when (e is not (DaprError or OperationCanceledException))
        {
            throw LockErrors.TryLockFailed(e.Message);
        }
    }

    public async Task<UnlockStatus> UnlockAsync(string storeName, string resourceId, string lockOwner, CancellationToken ct)
    {
        var (resource, store) = Find(storeName, resourceId, lockOwner);
        var key = Key(resource, resourceId) ?? throw LockErrors.UnlockFailed(IllegalKey(resourceId));
        try
        {
            return await store.UnlockAsync(key, lockOwner, ct);
        }
        catch (Exception e) when (e is not (DaprError or OperationCanceledException))
        {
            throw LockErrors.UnlockFailed(e.Message);
        }
    }

    /// <summary>daprd's <c>lockValidateRequest</c>: any store at all, resource id, owner, then the store by name.</summary>
    private (ComponentResource Resource, ILockStore Store) Find(string storeName, string resourceId, string lockOwner)
    {
        if (components.LockStores.Count == 0)
        {
            throw LockErrors.NotConfigured();
        }

        if (string.IsNullOrEmpty(resourceId))
        {
            throw LockErrors.ResourceIdEmpty(storeName);
        }

        if (string.IsNullOrEmpty(lockOwner))
        {
            throw LockErrors.LockOwnerEmpty(storeName);
        }

        return components.LockStores.TryGetValue(storeName, out var found) ? found : throw LockErrors.NotFound(storeName);
    }

    /// <summary>
    /// <c>GetModifiedLockKey</c>: <c>lock||appid||id</c> by default, <c>lock||id</c> for <c>none</c>,
    /// <c>lock||store||id</c> for <c>name</c>, else <c>lock||prefix||id</c>. daprd reads the <c>keyPrefix</c>
    /// metadata case-insensitively and lower-cases its value. Null when the id contains <c>||</c>.
    /// </summary>
    private string? Key(ComponentResource store, string resourceId)
    {
        if (resourceId.Contains(Separator, StringComparison.Ordinal))
        {
            return null;
        }

        return KeyPrefix(store) switch
        {
            "none" => $"lock{Separator}{resourceId}",
            "name" => $"lock{Separator}{store.Name}{Separator}{resourceId}",
            "appid" => appId.Length == 0 ? $"lock{Separator}{resourceId}" : $"lock{Separator}{appId}{Separator}{resourceId}",
            var literal => $"lock{Separator}{literal}{Separator}{resourceId}",
        };
    }

    private const string Separator = "||";

    /// <summary>The component's key prefix strategy; a prefix containing <c>||</c> stops start-up as it stops daprd's lock init.</summary>
    public static string KeyPrefix(ComponentResource store)
    {
        var strategy = (store.Get("keyPrefix") ?? "appid").ToLowerInvariant();
        return strategy.Contains(Separator, StringComparison.Ordinal)
            ? throw new ResourceException(store.File, "spec.metadata[keyPrefix]", $"failed to save lock keyprefix: {IllegalKey(strategy)}")
            : strategy;
    }

    private static string IllegalKey(string key) => $"input key/keyPrefix '{key}' can't contain '{Separator}'";
}

/// <summary>daprd's lock errors (<c>pkg/messages/predefined.go</c>, codes from <c>pkg/messages/errorcodes</c>); plain statuses, no ErrorInfo.</summary>
internal static class LockErrors
{
    public static DaprError NotConfigured() =>
        new("ERR_LOCK_STORE_NOT_CONFIGURED", "lock store is not configured", 500, StatusCode.FailedPrecondition);

    public static DaprError ResourceIdEmpty(string store) =>
        new("ERR_MALFORMED_REQUEST", $"ResourceId is empty in lock store {store}", 400, StatusCode.InvalidArgument);

    public static DaprError LockOwnerEmpty(string store) =>
        new("ERR_MALFORMED_REQUEST", $"LockOwner is empty in lock store {store}", 400, StatusCode.InvalidArgument);

    public static DaprError ExpiryNotPositive(string store) =>
        new("ERR_MALFORMED_REQUEST", $"ExpiryInSeconds is not positive in lock store {store}", 400, StatusCode.InvalidArgument);

    public static DaprError NotFound(string store) =>
        new("ERR_LOCK_STORE_NOT_FOUND", $"lock store {store} not found", 400, StatusCode.InvalidArgument);

    public static DaprError TryLockFailed(string detail) =>
        new("ERR_TRY_LOCK", $"failed to try acquiring lock: {detail}", 500, StatusCode.Internal);

    public static DaprError UnlockFailed(string detail) =>
        new("ERR_UNLOCK", $"failed to release lock: {detail}", 500, StatusCode.Internal);
}
