using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.State;

namespace Platform.Sidecar.Actors;

/// <summary>A reminder as stored: the registration strings verbatim, plus how often and when it last fired.</summary>
public sealed record ReminderRecord(
    [property: JsonPropertyName("actorId")] string ActorId,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("uid")] string Uid,
    [property: JsonPropertyName("dueTime")] string DueTime,
    [property: JsonPropertyName("period")] string Period,
    [property: JsonPropertyName("ttl")] string? Ttl,
    [property: JsonPropertyName("data")] JsonElement? Data,
    [property: JsonPropertyName("registeredAt")] DateTimeOffset RegisteredAt,
    [property: JsonPropertyName("fired")] int Fired,
    [property: JsonPropertyName("lastFiredAt")] DateTimeOffset? LastFiredAt);

/// <summary>
/// Persistent actor reminders. They live in the actor state store (the component with <c>actorStateStore: "true"</c>),
/// one key per hosting app and actor type, <c>{appId}||__reminders||{actorType}</c>, holding a JSON array of
/// <see cref="ReminderRecord"/> (registration strings, registration time, firings so far, last firing). The key has
/// three parts, so it cannot collide with actor state keys (<c>{appId}||{type}||{id}||{key}</c>). Writes are
/// read-modify-write guarded by the store's ETag, so replicas sharing a store (Redis) do not lose each other's
/// changes. Each sidecar runs the reminders of the actors it owns by placement; it reloads the keys of its types
/// when the set of hosts changes and every few seconds, so reminders move with their actors and survive restarts.
/// (daprd before 1.15 kept them in the state store too, under <c>actors||{type}</c>; since 1.15 the Scheduler holds them.)
/// </summary>
internal sealed class ActorReminders(
    string appId,
    Func<IStateStore?> store,
    Func<string, string, bool> owns,
    Func<string, ReminderRecord, CancellationToken, Task<bool>> fire,
    ILogger logger,
    TimeProvider time) : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly ConcurrentDictionary<string, Scheduled> _scheduled = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    public string StoreKey(string type) => $"{appId}||__reminders||{type}";

    public int ScheduledCount => _scheduled.Count;

    public async Task RegisterAsync(string type, string id, string name, string dueTime, string period, string? ttl, JsonElement? data, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var record = new ReminderRecord(id, name, Guid.NewGuid().ToString("N"), dueTime, period, ttl, data, now, 0, null);
        try
        {
            ActorSchedule.Parse(dueTime, period, ttl, now);
        }
        catch (FormatException e)
        {
            throw ActorErrors.ReminderCreate(e.Message); // daprd: a schedule it cannot use is ERR_ACTOR_REMINDER_CREATE (500)
        }

        await MutateAsync(type, list =>
        {
            list.RemoveAll(r => r.ActorId == id && r.Name == name);
            list.Add(record);
            return true;
        }, () => Schedule(type, record), ct);
    }

    public async Task<ReminderRecord?> GetAsync(string type, string id, string name, CancellationToken ct) =>
        (await LoadAsync(type, ct)).FirstOrDefault(r => r.ActorId == id && r.Name == name);

    public async Task<bool> DeleteAsync(string type, string id, string name, CancellationToken ct)
    {
        return await MutateAsync(type, list => list.RemoveAll(r => r.ActorId == id && r.Name == name) > 0, () =>
        {
            if (_scheduled.TryRemove(Key(type, id, name), out var s))
            {
                s.Stop();
            }
        }, ct);
    }

    /// <summary>Loads the reminders of <paramref name="types"/> and runs exactly those of actors this sidecar owns.</summary>
    public async Task ReconcileAsync(IEnumerable<string> types, CancellationToken ct)
    {
        if (store() is null)
        {
            return;
        }

        foreach (var type in types)
        {
            // Under the type's gate, so a registration or deletion cannot slip between reading the list and acting on it.
            var gate = Gate(type);
            await gate.WaitAsync(ct);
            try
            {
                await ReconcileTypeAsync(type, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Could not load the reminders of actor type {Type}: {Error}", type, e.Message);
            }
            finally
            {
                gate.Release();
            }
        }
    }

    private async Task ReconcileTypeAsync(string type, CancellationToken ct)
    {
        var list = await LoadAsync(type, ct);

        var wanted = new Dictionary<string, ReminderRecord>(StringComparer.Ordinal);
        foreach (var r in list)
        {
            if (owns(type, r.ActorId))
            {
                wanted[Key(type, r.ActorId, r.Name)] = r;
            }
        }

        foreach (var (key, s) in _scheduled)
        {
            if (s.Type == type && (!wanted.TryGetValue(key, out var w) || w.Uid != s.Record.Uid) && _scheduled.TryRemove(KeyValuePair.Create(key, s)))
            {
                s.Stop();
            }
        }

        foreach (var (key, r) in wanted)
        {
            if (!_scheduled.TryGetValue(key, out var s) || s.Record.Uid != r.Uid)
            {
                Schedule(type, r);
            }
        }
    }

    private void Schedule(string type, ReminderRecord record)
    {
        var key = Key(type, record.ActorId, record.Name);
        var s = new Scheduled(type, record, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
        if (_scheduled.TryRemove(key, out var old))
        {
            old.Stop();
        }

        if (!_scheduled.TryAdd(key, s))
        {
            // Another registration of the same name won the race; it is the newer one.
            s.Stop();
            return;
        }

        s.Run = Task.Run(() => RunAsync(key, s));
    }

    private async Task RunAsync(string key, Scheduled s)
    {
        var ct = s.Stopping;
        var r = s.Record;
        try
        {
            var schedule = ActorSchedule.Parse(r.DueTime, r.Period, r.Ttl, r.RegisteredAt);
            while (true)
            {
                if (schedule.Next(s.Fired, s.LastFiredAt) is not { } next)
                {
                    await RemoveAsync(s, ct);
                    return;
                }

                await DelayUntilAsync(next, time, ct);
                if (!owns(s.Type, r.ActorId))
                {
                    // The actor moved to another host; that host runs it now.
                    return;
                }

                var cancel = false;
                try
                {
                    cancel = await fire(s.Type, r, ct);
                }
                catch (Exception e) when (e is DaprError or HttpRequestException or IOException)
                {
                    logger.LogWarning("Reminder {Name} of actor {Type}/{Id} failed: {Error}", r.Name, s.Type, r.ActorId, e.Message);
                }

                s.Fired++;
                s.LastFiredAt = time.GetUtcNow();
                if (cancel || schedule.Next(s.Fired, s.LastFiredAt) is null)
                {
                    await RemoveAsync(s, ct);
                    return;
                }

                var fired = s.Fired;
                var last = s.LastFiredAt;
                var kept = await MutateAsync(s.Type, list =>
                {
                    var i = list.FindIndex(x => x.ActorId == r.ActorId && x.Name == r.Name && x.Uid == r.Uid);
                    if (i < 0)
                    {
                        return false;
                    }

                    list[i] = list[i] with { Fired = fired, LastFiredAt = last };
                    return true;
                }, null, ct);
                if (!kept)
                {
                    // Deleted or registered anew meanwhile.
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogError(e, "Reminder {Name} of actor {Type}/{Id} stopped", r.Name, s.Type, r.ActorId);
        }
        finally
        {
            _scheduled.TryRemove(KeyValuePair.Create(key, s));
        }
    }

    private Task RemoveAsync(Scheduled s, CancellationToken ct) =>
        MutateAsync(s.Type, list => list.RemoveAll(x => x.ActorId == s.Record.ActorId && x.Name == s.Record.Name && x.Uid == s.Record.Uid) > 0, null, ct);

    internal static async Task DelayUntilAsync(DateTimeOffset at, TimeProvider time, CancellationToken ct)
    {
        while (true)
        {
            var wait = at - time.GetUtcNow();
            if (wait <= TimeSpan.Zero)
            {
                return;
            }

            await Task.Delay(wait < TimeSpan.FromDays(1) ? wait : TimeSpan.FromDays(1), time, ct);
        }
    }

    private async Task<List<ReminderRecord>> LoadAsync(string type, CancellationToken ct)
    {
        var s = store() ?? throw ActorErrors.RuntimeNotFound();
        return Decode(await s.GetAsync(StoreKey(type), ct));
    }

    private SemaphoreSlim Gate(string type) => _gates.GetOrAdd(type, _ => new SemaphoreSlim(1, 1));

    /// <summary>
    /// Read, change, write back if the ETag still matches; start over when another writer came first. Then runs
    /// <paramref name="after"/> (adjusting the local schedule) still under the type's gate. False when nothing changed.
    /// </summary>
    private async Task<bool> MutateAsync(string type, Func<List<ReminderRecord>, bool> change, Action? after, CancellationToken ct)
    {
        var s = store() ?? throw ActorErrors.RuntimeNotFound();
        var gate = Gate(type);
        await gate.WaitAsync(ct);
        try
        {
            var key = StoreKey(type);
            for (var attempt = 0; attempt < 100; attempt++)
            {
                var item = await s.GetAsync(key, ct);
                var list = Decode(item);
                if (!change(list))
                {
                    after?.Invoke();
                    return false;
                }

                if (list.Count == 0 && item is null)
                {
                    after?.Invoke();
                    return true;
                }

                StateOperation op = list.Count == 0
                    ? new Delete(key, item!.ETag, Concurrency.FirstWrite)
                    : new Upsert(key, JsonSerializer.SerializeToUtf8Bytes(list, Json), item?.ETag, Concurrency.FirstWrite, null);
                try
                {
                    await s.ApplyAsync([op], ct);
                    after?.Invoke();
                    return true;
                }
                catch (ETagMismatchException)
                {
                    await Task.Delay(Random.Shared.Next(2, 20), ct);
                }
            }

            throw ActorErrors.ReminderCreate($"the reminders of actor type {type} kept changing underneath (ETag conflicts)");
        }
        finally
        {
            gate.Release();
        }
    }

    private static List<ReminderRecord> Decode(StateItem? item)
    {
        if (item is null || item.Data.Length == 0)
        {
            return [];
        }

        return JsonSerializer.Deserialize<List<ReminderRecord>>(item.Data.Span, Json) ?? [];
    }

    private static string Key(string type, string id, string name) => $"{type}||{id}||{name}";

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        var running = _scheduled.Values.Select(s => s.Run).ToList();
        _scheduled.Clear();
        await Task.WhenAll(running);
        _stopping.Dispose();
    }

    private sealed class Scheduled(string type, ReminderRecord record, CancellationTokenSource stop)
    {
        public string Type { get; } = type;

        public ReminderRecord Record { get; } = record;

        public int Fired { get; set; } = record.Fired;

        public DateTimeOffset? LastFiredAt { get; set; } = record.LastFiredAt;

        public Task Run { get; set; } = Task.CompletedTask;

        public CancellationToken Stopping => stop.Token;

        public void Stop()
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
