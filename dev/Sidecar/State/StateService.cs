using Platform.Sidecar.Api;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.State;

/// <summary>What both APIs (HTTP and gRPC) do with state: find the store, prefix keys as daprd does, map store errors to Dapr errors.</summary>
public sealed class StateService(Components components, string appId)
{
    public async Task<StateItem?> GetAsync(string storeName, string key, CancellationToken ct)
    {
        var (resource, store) = components.StateStore(storeName);
        return await store.GetAsync(Prefix(resource, key), ct);
    }

    /// <summary>
    /// Reads several keys at once (daprd's bulk get: every key read on its own, one failure reported on its item,
    /// not failing the whole request). The store must exist.
    /// </summary>
    public async Task<IReadOnlyList<BulkGetResult>> BulkGetAsync(string storeName, IReadOnlyList<string> keys, CancellationToken ct)
    {
        components.StateStore(storeName);
        return await Task.WhenAll(keys.Select(async key =>
        {
            try
            {
                return new BulkGetResult(key, await GetAsync(storeName, key, ct), null);
            }
            catch (DaprError e)
            {
                return new BulkGetResult(key, null, e.Message);
            }
        }));
    }

    /// <summary>Applies the operations (keys as the app gave them) atomically; nothing is written when any is refused.</summary>
    public async Task ApplyAsync(string storeName, IReadOnlyList<StateOperation> operations, string errorCode, CancellationToken ct)
    {
        var (resource, store) = components.StateStore(storeName);
        var prefixed = operations.Select(op => op switch
        {
            Upsert u => (StateOperation)(u with { Key = Prefix(resource, u.Key) }),
            _ => op with { Key = Prefix(resource, op.Key) },
        }).ToList();
        try
        {
            await store.ApplyAsync(prefixed, ct);
        }
        catch (ETagMismatchException e)
        {
            throw Failed(errorCode, DaprError.ETagMismatch(errorCode, Unprefix(e.Key), "the stored ETag differs (or first-write found the key present)"));
        }
        catch (ETagInvalidException e)
        {
            throw Failed(errorCode, DaprError.ETagInvalid(errorCode, Unprefix(e.Key)));
        }
    }

    /// <summary>
    /// daprd answers a failed transaction with 500 / INTERNAL and "error while executing state transaction: ..."
    /// whatever the cause (pkg/api/http onPostStateTransaction, pkg/api/grpc ExecuteStateTransaction); only a
    /// single save or delete maps ETag errors to 409 / ABORTED and 400 / INVALID_ARGUMENT.
    /// </summary>
    private static DaprError Failed(string errorCode, DaprError error) => errorCode == "ERR_STATE_TRANSACTION"
        ? new DaprError(errorCode, $"error while executing state transaction: {error.Message}", 500, Grpc.Core.StatusCode.Internal)
        : error;

    /// <summary>daprd's key prefix strategies (pkg/components/state/state_config.go): appid (default), name, none, or a literal.</summary>
    public string Prefix(ComponentResource store, string key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw DaprError.Malformed("a state key is required");
        }

        if (key.Contains("||", StringComparison.Ordinal))
        {
            throw DaprError.IllegalKey(key);
        }

        return (store.Get("keyPrefix") ?? "appid") switch
        {
            "appid" => appId.Length == 0 ? key : $"{appId}||{key}",
            "name" => $"{store.Name}||{key}",
            "none" => key,
            var literal => $"{literal}||{key}",
        };
    }

    private static string Unprefix(string key) => key[(key.LastIndexOf("||", StringComparison.Ordinal) is var i and >= 0 ? i + 2 : 0)..];

    public static Concurrency ParseConcurrency(string? text) => text switch
    {
        null or "" => Concurrency.Unspecified,
        "last-write" => Concurrency.LastWrite,
        "first-write" => Concurrency.FirstWrite,
        _ => throw DaprError.Malformed($"options.concurrency '{text}' is not first-write or last-write"),
    };

    public static int? ParseTtl(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.TryGetValue("ttlInSeconds", out var text))
        {
            return null;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ttl) ? ttl
            : throw DaprError.Malformed($"metadata.ttlInSeconds '{text}' is not a whole number");
    }
}

/// <summary>One key of a bulk read: its item (null when missing) or the error reading it.</summary>
public sealed record BulkGetResult(string Key, StateItem? Item, string? Error);
