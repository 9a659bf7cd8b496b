using Platform.Sidecar.State;

namespace Platform.Sidecar.Actors;

/// <summary>The actor runtime, state: actor state under <c>{appId}||{type}||{id}||{key}</c> in the actor state store.</summary>
public sealed partial class ActorService
{
    private IStateStore? FindStore()
    {
        var c = _components.All.FirstOrDefault(c => c.Category == "state" && string.Equals(c.Get("actorStateStore"), "true", StringComparison.OrdinalIgnoreCase));
        if (c is null)
        {
            return null;
        }

        StateStoreName = c.Name;
        return _components.StateStore(c.Name).Store;
    }

    private IStateStore Store() => _store.Value ?? throw ActorErrors.RuntimeNotFound();

    /// <summary>The key daprd stores actor state under (docs "Querying actor state externally").</summary>
    public string StateKey(string type, string id, string key) => $"{_appId}||{type}||{id}||{key}";

    /// <summary>Reads a key of the actor's state; like daprd, from any sidecar (the key carries this sidecar's app-id).</summary>
    internal async Task<StateItem?> GetStateAsync(string type, string id, string key, CancellationToken ct)
    {
        var store = Store();
        try
        {
            return await store.GetAsync(StateKey(type, id, key), ct);
        }
        catch (Exception e) when (e is not (OperationCanceledException or Api.DaprError))
        {
            throw ActorErrors.StateGet(e.Message);
        }
    }

    /// <summary>Applies an actor's state transaction (keys as the actor gave them) atomically; the actor must be active or placed here.</summary>
    internal async Task ApplyStateAsync(string type, string id, IReadOnlyList<StateOperation> operations, CancellationToken ct)
    {
        var store = Store();
        RequireLocal(type, id);
        var prefixed = operations.Select(op => op switch
        {
            Upsert u => (StateOperation)(u with { Key = StateKey(type, id, u.Key) }),
            _ => op with { Key = StateKey(type, id, op.Key) },
        }).ToList();
        try
        {
            await store.ApplyAsync(prefixed, ct);
        }
        catch (Exception e) when (e is not (OperationCanceledException or Api.DaprError))
        {
            throw ActorErrors.StateTransaction(e.Message);
        }
    }

    private void RequireLocal(string type, string id)
    {
        if (!IsLocal(type, id))
        {
            throw ActorErrors.InstanceMissing();
        }
    }
}
