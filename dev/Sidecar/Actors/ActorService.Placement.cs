using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Actors;

/// <summary>The actor runtime, placement: which sidecar owns an actor (<see cref="ActorPlacement"/>, consistent hashing over the registry).</summary>
public sealed partial class ActorService
{
    /// <summary>The sidecar that owns the actor; waits for this sidecar's own discovery when nothing hosts the type yet.</summary>
    internal async Task<Replica?> OwnerAsync(string type, string id, bool fresh, CancellationToken ct)
    {
        var owner = _placement.Owner(type, id, fresh);
        if (owner is null && !_discovered.Task.IsCompleted)
        {
            try
            {
                await _discovered.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            }
            catch (TimeoutException)
            {
                return null;
            }

            owner = _placement.Owner(type, id, fresh: true);
        }

        return owner;
    }

    internal bool IsSelf(Replica replica) => replica.InstanceId == _instanceId;

    private bool Owns(string type, string id) =>
        _config.Types.ContainsKey(type) && _placement.Owner(type, id)?.InstanceId == _instanceId;

    /// <summary>Actor state and timers belong to an actor that is active here or placed here (daprd: ERR_ACTOR_INSTANCE_MISSING otherwise).</summary>
    internal bool IsLocal(string type, string id) =>
        _config.Types.ContainsKey(type) && ((_active.TryGetValue(Key(type, id), out var a) && !a.Deactivated) || Owns(type, id));
}
