using Microsoft.Extensions.Logging;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Actors;

/// <summary>The actor runtime, deactivation and rebalancing: idle actors deactivated, actors placed elsewhere handed over.</summary>
public sealed partial class ActorService
{
    private async Task MaintainAsync(CancellationToken ct)
    {
        var types = _config.Types.Keys.ToList();
        var scan = _config.Types.Values.Min(c => c.ScanInterval);
        var tick = scan < Tick ? scan : Tick;
        var lastScan = _time.GetUtcNow();
        var lastReload = DateTimeOffset.MinValue;
        var hosts = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            try
            {
                var changed = new List<string>();
                foreach (var type in types)
                {
                    var signature = string.Join(',', _placement.Hosts(type).Select(h => h.InstanceId));
                    if (!hosts.TryGetValue(type, out var before) || before != signature)
                    {
                        hosts[type] = signature;
                        changed.Add(type);
                    }
                }

                await HandOverAsync(ct);
                var now = _time.GetUtcNow();
                if (now - lastReload >= ReloadEvery)
                {
                    await _reminders.ReconcileAsync(types, ct);
                    lastReload = now;
                }
                else if (changed.Count > 0)
                {
                    await _reminders.ReconcileAsync(changed, ct);
                }

                if (now - lastScan >= scan)
                {
                    lastScan = now;
                    await DeactivateIdleAsync(now);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Actor maintenance failed; trying again");
            }

            try
            {
                await Task.Delay(tick, _time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Deactivates actors idle for longer than their type's <c>actorIdleTimeout</c> (those in a call stay).</summary>
    private async Task DeactivateIdleAsync(DateTimeOffset now)
    {
        foreach (var actor in _active.Values)
        {
            if (_config.Types.TryGetValue(actor.Type, out var config) && now - actor.LastUsed >= config.IdleTimeout && actor.Lock.TryEnter(out var turn))
            {
                await DeactivateAsync(actor, turn);
            }
        }
    }

    /// <summary>Deactivates actors placed elsewhere now that the hosts changed; the new owner activates them from their saved state.</summary>
    private async Task HandOverAsync(CancellationToken ct)
    {
        var hosts = new Dictionary<string, Replica[]>(StringComparer.Ordinal);
        foreach (var actor in _active.Values)
        {
            if (actor.Deactivated || !_config.Types.ContainsKey(actor.Type))
            {
                continue;
            }

            if (!hosts.TryGetValue(actor.Type, out var typeHosts))
            {
                hosts[actor.Type] = typeHosts = _placement.Hosts(actor.Type);
            }

            // No hosts at all means this sidecar is leaving the registry (shutting down): nothing to hand over to.
            if (typeHosts.Length == 0 || _placement.Owner(typeHosts, actor.Id)?.InstanceId == _instanceId)
            {
                continue;
            }

            if (actor.Lock.TryEnter(out var turn))
            {
                _logger.LogInformation("Actor {Type}/{Id} moved to another host; deactivating it here", actor.Type, actor.Id);
                await DeactivateAsync(actor, turn);
            }

            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Tells the app to deactivate the actor (<c>DELETE /actors/{type}/{id}</c>), holding its turn throughout.</summary>
    private async Task DeactivateAsync(ActiveActor actor, IDisposable turn)
    {
        using (turn)
        {
            try
            {
                var response = await CallAppAsync(HttpMethod.Delete, $"/actors/{Escape(actor.Type)}/{Escape(actor.Id)}", null, null, null, _stopping.Token);
                if (response.Status is < 200 or > 299)
                {
                    _logger.LogWarning("Deactivating actor {Type}/{Id}: the app answered {Status}", actor.Type, actor.Id, response.Status);
                }
            }
            catch (Exception e) when (e is Api.DaprError or HttpRequestException)
            {
                _logger.LogWarning("Deactivating actor {Type}/{Id} failed: {Error}", actor.Type, actor.Id, e.Message);
            }
            finally
            {
                actor.MarkDeactivated();
                _active.TryRemove(KeyValuePair.Create(actor.Key, actor));
            }
        }
    }
}
