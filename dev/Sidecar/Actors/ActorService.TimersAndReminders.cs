using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Platform.Sidecar.Actors;

/// <summary>The actor runtime, timers (in memory, per active actor) and reminders (durable, <see cref="ActorReminders"/>).</summary>
public sealed partial class ActorService
{
    /// <summary>daprd refuses reminder calls on a sidecar whose app does not host the type (ERR_ACTOR_REMINDER_NON_HOSTED).</summary>
    internal void RequireReminderHost(string type)
    {
        Store();
        if (!_config.Types.ContainsKey(type))
        {
            throw ActorErrors.ReminderNonHosted();
        }
    }

    /// <summary>Timers can only be created for types this sidecar's app hosts (daprd: "actor type not registered").</summary>
    internal void RequireTimerHost(string type, string id)
    {
        if (!_config.Types.ContainsKey(type))
        {
            throw ActorErrors.TimerCreate($"can't create timer for actor {type}||{id}: actor type not registered");
        }
    }

    internal Task RegisterReminderAsync(string type, string id, string name, string dueTime, string period, string? ttl, JsonElement? data, CancellationToken ct)
    {
        RequireReminderHost(type);
        return _reminders.RegisterAsync(type, id, name, dueTime, period, ttl, data, ct);
    }

    internal Task<ReminderRecord?> GetReminderAsync(string type, string id, string name, CancellationToken ct)
    {
        RequireReminderHost(type);
        return _reminders.GetAsync(type, id, name, ct);
    }

    internal Task<bool> DeleteReminderAsync(string type, string id, string name, CancellationToken ct)
    {
        RequireReminderHost(type);
        return _reminders.DeleteAsync(type, id, name, ct);
    }


    /// <summary>Starts (or replaces) an in-memory timer of an actor active here; it stops when the actor deactivates.</summary>
    internal void RegisterTimer(string type, string id, string name, string callback, string dueTime, string period, string? ttl, string? dataJson)
    {
        RequireTimerHost(type, id);
        ActorSchedule schedule;
        try
        {
            schedule = ActorSchedule.Parse(dueTime, period, ttl, _time.GetUtcNow());
        }
        catch (FormatException e)
        {
            throw ActorErrors.TimerCreate(e.Message); // daprd: ERR_ACTOR_TIMER_CREATE (500)
        }

        var timer = new ActorTimer(name, callback, dueTime, period, ttl, dataJson, schedule);
        while (true)
        {
            // Registering a timer does not take the turn: the actor usually does it from inside one of its own calls.
            var actor = _active.GetOrAdd(Key(type, id), _ => new ActiveActor(type, id, _time.GetUtcNow()));
            if (actor.SetTimer(timer))
            {
                _ = Task.Run(() => RunTimerAsync(actor, timer), CancellationToken.None);
                return;
            }
        }
    }

    internal void DeleteTimer(string type, string id, string name)
    {
        if (_active.TryGetValue(Key(type, id), out var actor))
        {
            actor.RemoveTimer(name);
        }
    }

    private async Task RunTimerAsync(ActiveActor actor, ActorTimer timer)
    {
        var ct = timer.Stopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        var fired = 0;
        DateTimeOffset? last = null;
        try
        {
            while (timer.Schedule.Next(fired, last) is { } next)
            {
                await ActorReminders.DelayUntilAsync(next, _time, linked.Token);
                if (!await FireTimerAsync(actor, timer, linked.Token))
                {
                    return;
                }

                fired++;
                last = _time.GetUtcNow();
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Timer {Name} of actor {Type}/{Id} stopped", timer.Name, actor.Type, actor.Id);
        }
        finally
        {
            actor.RemoveTimer(timer.Name, timer);
        }
    }

    /// <summary>Fires one timer tick in the actor's turn; false when the timer must stop (actor gone, or the app cancelled it).</summary>
    private async Task<bool> FireTimerAsync(ActiveActor actor, ActorTimer timer, CancellationToken ct)
    {
        if (!_config.Types.TryGetValue(actor.Type, out var config))
        {
            return false;
        }

        var reentrancy = config.Reentrancy ? Guid.NewGuid().ToString() : null;
        using var turn = await actor.Lock.EnterAsync(reentrancy, config.MaxStackDepth, ct);
        if (actor.Deactivated || timer.Stopping.IsCancellationRequested)
        {
            return false;
        }

        actor.Touch(_time.GetUtcNow());
        try
        {
            var body = CallbackBody(timer.Callback, timer.DueTime, timer.Period, timer.DataJson);
            var response = await CallAppAsync(HttpMethod.Put, $"/actors/{Escape(actor.Type)}/{Escape(actor.Id)}/method/timer/{Escape(timer.Name)}", body, JsonContent, reentrancy, ct);
            if (response.Status is < 200 or > 299)
            {
                _logger.LogWarning("Timer {Name} of actor {Type}/{Id}: the app answered {Status}", timer.Name, actor.Type, actor.Id, response.Status);
            }

            return !response.CancelRequested;
        }
        catch (Api.DaprError e)
        {
            _logger.LogWarning("Timer {Name} of actor {Type}/{Id} failed: {Error}", timer.Name, actor.Type, actor.Id, e.Message);
            return true;
        }
        finally
        {
            actor.Touch(_time.GetUtcNow());
        }
    }

    /// <summary>daprd's <c>ReminderResponse</c>/<c>TimerResponse</c>: the registration strings echoed verbatim.</summary>
    private static byte[] CallbackBody(string? callback, string dueTime, string period, string? dataJson)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (callback is not null)
            {
                w.WriteString("callback", callback);
            }

            w.WriteString("dueTime", dueTime);
            w.WriteString("period", period);
            if (dataJson is not null)
            {
                w.WritePropertyName("data");
                w.WriteRawValue(dataJson, skipInputValidation: true);
            }

            w.WriteEndObject();
        }

        return ms.ToArray();
    }
}
