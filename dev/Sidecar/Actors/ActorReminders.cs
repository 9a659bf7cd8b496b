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
/// Persistent actor reminders, in the actor state store (the component with <c>actorStateStore: "true"</c>).
/// <para>
/// Layout: the reminders of an actor type are spread over <see cref="DefaultPartitions"/> (64) partition keys,
/// <c>{appId}||__reminders-{n}||{actorType}</c> with <c>n</c> = FNV-1a (32 bit) of the actor id modulo the partition
/// count, each holding a JSON array of <see cref="ReminderRecord"/> (registration strings, registration time, firings
/// so far, last firing). All reminders of one actor share a partition. The keys have three parts, so they cannot collide
/// with actor state keys (<c>{appId}||{type}||{id}||{key}</c>). This follows daprd before 1.15 (dapr/dapr
/// <c>pkg/actors/reminders/actor_metadata.go</c> <c>calculateReminderPartition</c> and <c>statestore.go</c>): with
/// <c>remindersStoragePartitions</c> it kept <c>actors||{type}||metadata</c> (partition count and a metadata id) and
/// the partitions <c>actors||{type}||{metadataId}||reminders||{1..n}</c>, the partition being FNV-1a of actor id and
/// reminder name; without it, one key <c>actors||{type}</c>. Here the count is fixed, so no metadata key is needed.
/// </para>
/// <para>
/// Writes: each partition has its own in-process gate and a cache of its list and ETag, filled by the first read. A
/// change writes the whole partition once, guarded by the cached ETag (first-write); only when another writer came
/// first (ETag mismatch) is the partition read again and the change retried. So a change is one store round trip
/// when the cache is warm, and changes of actors in different partitions never wait for each other. A partition key
/// is created by a first-write without ETag (which fails if someone else created it first, and marks the key on
/// Redis) and is never deleted: an emptied partition is written as <c>[]</c>. That matters on <c>state.redis</c>,
/// where an ETag on a missing key writes: a replica holding a stale ETag of a deleted key would otherwise bring
/// back what another replica removed.
/// </para>
/// <para>
/// Each sidecar runs the reminders of the actors it owns by placement; it reloads all partitions of its types
/// (concurrently) when the set of hosts changes and every few seconds, so reminders move with their actors and survive
/// restarts. Reminders an older sidecar kept under the single key <c>{appId}||__reminders||{actorType}</c> are moved
/// into their partitions (and that key deleted, ETag-guarded) before this sidecar first touches the type's reminders.
/// </para>
/// </summary>
internal sealed class ActorReminders(
    string appId,
    Func<IStateStore?> store,
    Func<string, string, bool> owns,
    Func<string, ReminderRecord, CancellationToken, Task<bool>> fire,
    ILogger logger,
    TimeProvider time,
    int partitions = ActorReminders.DefaultPartitions) : IAsyncDisposable
{
    /// <summary>How many partition keys one actor type's reminders are spread over.</summary>
    public const int DefaultPartitions = 64;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly ConcurrentDictionary<string, Scheduled> _scheduled = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Type, int Partition), Partition> _partitions = new();
    private readonly ConcurrentDictionary<string, Lazy<Task>> _migrations = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The single key older sidecars kept all reminders of a type under; read once per type and emptied.</summary>
    public string LegacyStoreKey(string type) => $"{appId}||__reminders||{type}";

    /// <summary>The store key of one partition of a type's reminders.</summary>
    public string StoreKey(string type, int partition) => $"{appId}||__reminders-{partition}||{type}";

    /// <summary>The partition of an actor's reminders: FNV-1a (32 bit) of the actor id's UTF-8 bytes, modulo the count.</summary>
    public int PartitionOf(string actorId)
    {
        var h = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(actorId))
        {
            h = unchecked((h ^ b) * 16777619u);
        }

        return (int)(h % (uint)partitions);
    }

    public int PartitionCount => partitions;

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

        await MutateAsync(type, PartitionOf(id), list =>
        {
            list.RemoveAll(r => r.ActorId == id && r.Name == name);
            list.Add(record);
            return true;
        }, () => Schedule(type, record), ct);
    }

    /// <summary>Reads the reminder from the store (not the cache: another replica may have changed it).</summary>
    public async Task<ReminderRecord?> GetAsync(string type, string id, string name, CancellationToken ct)
    {
        await MigrateOnceAsync(type, ct);
        var s = store() ?? throw ActorErrors.RuntimeNotFound();
        return Decode(await s.GetAsync(StoreKey(type, PartitionOf(id)), ct)).FirstOrDefault(r => r.ActorId == id && r.Name == name);
    }

    public async Task<bool> DeleteAsync(string type, string id, string name, CancellationToken ct)
    {
        return await MutateAsync(type, PartitionOf(id), list => list.RemoveAll(r => r.ActorId == id && r.Name == name) > 0, () =>
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
            try
            {
                await MigrateOnceAsync(type, ct);

                // All partitions at once (the Redis connection pipelines the reads): the bulk get daprd did.
                await Task.WhenAll(Enumerable.Range(0, partitions).Select(p => ReconcilePartitionAsync(type, p, ct)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Could not load the reminders of actor type {Type}: {Error}", type, e.Message);
            }
        }
    }

    private async Task ReconcilePartitionAsync(string type, int partition, CancellationToken ct)
    {
        // Under the partition's gate, so a registration or deletion cannot slip between reading the list and acting on it.
        var part = Part(type, partition);
        await part.Gate.WaitAsync(ct);
        try
        {
            await part.LoadAsync(Store(), StoreKey(type, partition), ct);
            var wanted = new Dictionary<string, ReminderRecord>(StringComparer.Ordinal);
            foreach (var r in part.Items)
            {
                if (owns(type, r.ActorId))
                {
                    wanted[Key(type, r.ActorId, r.Name)] = r;
                }
            }

            foreach (var (key, s) in _scheduled)
            {
                if (s.Type == type && s.Partition == partition && (!wanted.TryGetValue(key, out var w) || w.Uid != s.Record.Uid)
                    && _scheduled.TryRemove(KeyValuePair.Create(key, s)))
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
        finally
        {
            part.Gate.Release();
        }
    }

    /// <summary>Moves reminders from the single key of older sidecars into the partitions, once per type and sidecar.</summary>
    private Task MigrateOnceAsync(string type, CancellationToken ct)
    {
        var lazy = _migrations.GetOrAdd(type, t => new Lazy<Task>(() => MigrateAsync(t, _stopping.Token)));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            // Try again on the next call (the store may be back).
            _migrations.TryRemove(KeyValuePair.Create(type, lazy));
        }

        return task.WaitAsync(ct);
    }

    private async Task MigrateAsync(string type, CancellationToken ct)
    {
        var s = Store();
        var legacyKey = LegacyStoreKey(type);
        var item = await s.GetAsync(legacyKey, ct);
        if (item is null)
        {
            return;
        }

        var old = Decode(item);
        foreach (var group in old.GroupBy(r => PartitionOf(r.ActorId)))
        {
            // A reminder already in its partition was registered (or deleted and registered) since: it is newer.
            await MutateCoreAsync(type, group.Key, list =>
            {
                var added = false;
                foreach (var r in group)
                {
                    if (!list.Exists(x => x.ActorId == r.ActorId && x.Name == r.Name))
                    {
                        list.Add(r);
                        added = true;
                    }
                }

                return added;
            }, null, ct);
        }

        try
        {
            await s.ApplyAsync([new Delete(legacyKey, item.ETag, Concurrency.FirstWrite)], ct);
            logger.LogInformation("Moved {Count} reminders of actor type {Type} from {Key} into partitions", old.Count, type, legacyKey);
        }
        catch (ETagMismatchException)
        {
            // An older sidecar still writes the key: move what it holds on the next start (stale copies stay skipped).
            logger.LogWarning("The reminders under {Key} changed while being moved; they are moved again on the next start", legacyKey);
        }
    }

    private void Schedule(string type, ReminderRecord record)
    {
        var key = Key(type, record.ActorId, record.Name);
        var s = new Scheduled(type, PartitionOf(record.ActorId), record, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
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
                var kept = await MutateAsync(s.Type, s.Partition, list =>
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
        MutateAsync(s.Type, s.Partition, list => list.RemoveAll(x => x.ActorId == s.Record.ActorId && x.Name == s.Record.Name && x.Uid == s.Record.Uid) > 0, null, ct);

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

    private IStateStore Store() => store() ?? throw ActorErrors.RuntimeNotFound();

    private Partition Part(string type, int partition) => _partitions.GetOrAdd((type, partition), _ => new Partition());

    private async Task<bool> MutateAsync(string type, int partition, Func<List<ReminderRecord>, bool> change, Action? after, CancellationToken ct)
    {
        await MigrateOnceAsync(type, ct);
        return await MutateCoreAsync(type, partition, change, after, ct);
    }

    /// <summary>
    /// Changes a copy of the partition's cached list and writes it back with the cached ETag: one store call when the
    /// cache is warm. On an ETag mismatch (another replica wrote the partition) it reads the partition and tries again;
    /// when the cached list needs no change it is read again too before answering "nothing changed".
    /// Then runs <paramref name="after"/> (adjusting the local schedule) still under the partition's gate. False when
    /// nothing changed.
    /// </summary>
    private async Task<bool> MutateCoreAsync(string type, int partition, Func<List<ReminderRecord>, bool> change, Action? after, CancellationToken ct)
    {
        var s = Store();
        var key = StoreKey(type, partition);
        var part = Part(type, partition);
        await part.Gate.WaitAsync(ct);
        try
        {
            for (var attempt = 0; attempt < 100; attempt++)
            {
                var fresh = !part.Loaded;
                if (fresh)
                {
                    await part.LoadAsync(s, key, ct);
                }

                var list = new List<ReminderRecord>(part.Items);
                if (!change(list))
                {
                    if (!fresh)
                    {
                        // Nothing to change in the cached list, but another replica may have written the partition
                        // since: only a fresh read can say "not there" (a write would have had its ETag checked).
                        part.Loaded = false;
                        continue;
                    }

                    after?.Invoke();
                    return false;
                }

                if (list.Count == 0 && part.ETag is null)
                {
                    part.Items = list;
                    after?.Invoke();
                    return true;
                }

                // No ETag: the key does not exist (as far as we know); first-write creates it, or fails if another
                // replica created it meanwhile. With an ETag: it must still match. The key is never deleted (see above).
                var op = new Upsert(key, JsonSerializer.SerializeToUtf8Bytes(list, Json), part.ETag, Concurrency.FirstWrite, null);
                try
                {
                    var etags = await s.ApplyAsync([op], ct);
                    part.Items = list;
                    part.ETag = etags[0];
                    part.Loaded = true;
                    after?.Invoke();
                    return true;
                }
                catch (ETagMismatchException)
                {
                    part.Loaded = false;
                    if (attempt > 0)
                    {
                        await Task.Delay(Random.Shared.Next(2, 20), ct);
                    }
                }
            }

            throw ActorErrors.ReminderCreate($"the reminders of actor type {type} kept changing underneath (ETag conflicts)");
        }
        catch
        {
            // A failed or cancelled write may or may not have landed: read the partition again next time.
            part.Loaded = false;
            throw;
        }
        finally
        {
            part.Gate.Release();
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

    /// <summary>One partition's gate and its cached list and ETag (null ETag: the key does not exist).</summary>
    private sealed class Partition
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public bool Loaded { get; set; }

        public List<ReminderRecord> Items { get; set; } = [];

        public string? ETag { get; set; }

        public async Task LoadAsync(IStateStore s, string key, CancellationToken ct)
        {
            Loaded = false;
            var item = await s.GetAsync(key, ct);
            Items = Decode(item);
            ETag = item?.ETag;
            Loaded = true;
        }
    }

    private sealed class Scheduled(string type, int partition, ReminderRecord record, CancellationTokenSource stop)
    {
        public string Type { get; } = type;

        public int Partition { get; } = partition;

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
