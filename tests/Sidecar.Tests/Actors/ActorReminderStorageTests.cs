using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Sidecar.Actors;
using Platform.Sidecar.State;
using StackExchange.Redis;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>
/// How reminders are stored (<see cref="ActorReminders"/>): partitioned per actor, one store write per change when
/// the partition is cached, no lock over a whole actor type, replicas sharing Redis, restarts, and the move from the
/// single key older sidecars used.
/// </summary>
public sealed class ActorReminderStorageTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const string Type = "Timed";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public enum Backend
    {
        InMemory,
        Redis,
    }

    [Fact]
    public async Task Two_sidecars_sharing_redis_change_reminders_of_many_actors_at_once_and_none_is_lost_or_resurrected()
    {
        var appId = ActorWorld.NewAppId("rem");
        await using var c0 = await Connect();
        await using var c1 = await Connect();
        var fired = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);

        // Sidecar 0 owns the even actors, sidecar 1 the odd ones. Few partitions, so both write the same keys.
        static int OwnerOf(string id) => int.Parse(id[1..], System.Globalization.CultureInfo.InvariantCulture) % 2;
        ActorReminders Side(ConnectionMultiplexer c, int side)
        {
            var store = new RedisStateStore(c, 0);
            return new(appId, () => store, (_, id) => OwnerOf(id) == side, (_, r, _) =>
            {
                fired.AddOrUpdate($"{side}|{r.ActorId}|{r.Name}", 1, (_, n) => n + 1);
                return Task.FromResult(false);
            }, NullLogger.Instance, TimeProvider.System, partitions: 4);
        }

        await using var s0 = Side(c0, 0);
        await using var s1 = Side(c1, 1);
        var sides = new[] { s0, s1 };

        const int Actors = 40;
        var ids = Enumerable.Range(0, Actors).Select(i => $"a{i}").ToList();
        await Task.WhenAll(ids.Select(async (id, i) =>
        {
            // Registered through one sidecar (the owner or not), the "drop" reminder deleted through the other.
            var via = sides[(i / 2) % 2];
            var other = sides[((i / 2) + 1) % 2];
            await via.RegisterAsync(Type, id, "drop", "1h", "", null, null, CancellationToken.None);
            await via.RegisterAsync(Type, id, "keep", "50ms", "1h", null, null, CancellationToken.None);
            Assert.True(await other.DeleteAsync(Type, id, "drop", CancellationToken.None));
        }));

        var store = new RedisStateStore(c0, 0);
        var expected = ids.Select(id => $"{id}|keep").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, await StoredAsync(store, s0));

        await Task.WhenAll(sides.Select(s => s.ReconcileAsync([Type], CancellationToken.None)));
        await Poll.UntilAsync(() => ids.All(id => fired.ContainsKey($"{OwnerOf(id)}|{id}|keep")), "every kept reminder to fire on its actor's sidecar");

        Assert.DoesNotContain(fired.Keys, k => k.EndsWith("|drop", StringComparison.Ordinal));
        Assert.All(fired.Keys, k => Assert.Equal(k[0] - '0', OwnerOf(k.Split('|')[1])));

        // Recording the firings (the partitions written again by both sidecars) brought nothing back.
        await Poll.UntilAsync(async () => (await FiredCountsAsync(store, s0)).All(n => n == 1), "the firings to be recorded");
        Assert.Equal(expected, await StoredAsync(store, s0));
    }

    [Fact]
    public async Task A_reminder_registered_before_a_sidecar_restart_fires_on_the_new_sidecar()
    {
        var appId = ActorWorld.NewAppId("rem");
        await using var c = await Connect();
        var store = new RedisStateStore(c, 0);
        ActorReminders Sidecar(ConcurrentQueue<string> fired) => new(appId, () => store, (_, _) => true, (_, r, _) =>
        {
            fired.Enqueue(r.Name);
            return Task.FromResult(false);
        }, NullLogger.Instance, TimeProvider.System);

        await using (var first = Sidecar(new ConcurrentQueue<string>()))
        {
            await first.RegisterAsync(Type, "durable", "beat", "50ms", "200ms", null, null, CancellationToken.None);
        }

        var fired = new ConcurrentQueue<string>();
        await using var second = Sidecar(fired);
        await second.ReconcileAsync([Type], CancellationToken.None);
        await Poll.UntilAsync(() => fired.Count(n => n == "beat") >= 2, "the reminder to fire on the restarted sidecar");
        Assert.Equal(new[] { "durable|beat" }, await StoredAsync(store, second));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Reminders_under_the_old_single_key_are_moved_into_partitions_and_a_deletion_before_the_move_sticks(Backend backend)
    {
        var appId = ActorWorld.NewAppId("rem");
        await using var c = backend == Backend.Redis ? await Connect() : null;
        IStateStore store = c is null ? new InMemoryStateStore(TimeProvider.System) : new RedisStateStore(c, 0);
        var fired = new ConcurrentQueue<string>();
        await using var reminders = new ActorReminders(appId, () => store, (_, _) => true, (_, r, _) =>
        {
            fired.Enqueue($"{r.ActorId}|{r.Name}");
            return Task.FromResult(false);
        }, NullLogger.Instance, TimeProvider.System);

        var now = DateTimeOffset.UtcNow;
        var old = new[]
        {
            new ReminderRecord("x", "moved", "u1", "50ms", "1h", null, null, now, 0, null),
            new ReminderRecord("y", "deleted", "u2", "50ms", "1h", null, null, now, 0, null),
        };
        var legacy = $"{appId}||__reminders||{Type}";
        await store.ApplyAsync([new Upsert(legacy, JsonSerializer.SerializeToUtf8Bytes(old, Json), null, Concurrency.FirstWrite, null)], CancellationToken.None);

        // The first call on the type moves the old list first, so this deletion finds the reminder and it stays deleted.
        Assert.True(await reminders.DeleteAsync(Type, "y", "deleted", CancellationToken.None));
        Assert.Null(await store.GetAsync(legacy, CancellationToken.None));
        Assert.Equal(new[] { "x|moved" }, await StoredAsync(store, reminders));

        await reminders.ReconcileAsync([Type], CancellationToken.None);
        await Poll.UntilAsync(() => fired.Contains("x|moved"), "the moved reminder to fire");
        Assert.DoesNotContain("y|deleted", fired);
        Assert.Equal(new[] { "x|moved" }, await StoredAsync(store, reminders));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task With_the_partition_cached_a_registration_or_deletion_is_one_store_write_and_no_read(Backend backend)
    {
        await using var c = backend == Backend.Redis ? await Connect() : null;
        var store = new CountingStore(c is null ? new InMemoryStateStore(TimeProvider.System) : new RedisStateStore(c, 0));
        await using var reminders = new ActorReminders(ActorWorld.NewAppId("rem"), () => store, (_, _) => true, (_, _, _) => Task.FromResult(false), NullLogger.Instance, TimeProvider.System);

        // The first change of a partition reads it once (and the old single key once per type).
        await reminders.RegisterAsync(Type, "acct-1", "outbox", "1h", "", null, null, CancellationToken.None);
        var (gets, applies) = (store.Gets, store.Applies);
        Assert.Equal(1, applies);

        for (var i = 0; i < 5; i++)
        {
            Assert.True(await reminders.DeleteAsync(Type, "acct-1", "outbox", CancellationToken.None));
            await reminders.RegisterAsync(Type, "acct-1", "outbox", "1h", "", null, null, CancellationToken.None);
        }

        Assert.Equal(gets, store.Gets);
        Assert.Equal(applies + 10, store.Applies);
        Assert.Equal(new[] { "acct-1|outbox" }, await StoredAsync(store, reminders));
    }

    [Theory]
    [InlineData(Backend.InMemory)]
    [InlineData(Backend.Redis)]
    public async Task Reminders_of_actors_in_other_partitions_are_written_while_a_store_write_of_one_actor_is_held(Backend backend)
    {
        await using var c = backend == Backend.Redis ? await Connect() : null;
        var store = new GatedStore(c is null ? new InMemoryStateStore(TimeProvider.System) : new RedisStateStore(c, 0));
        await using var reminders = new ActorReminders(ActorWorld.NewAppId("rem"), () => store, (_, _) => true, (_, _, _) => Task.FromResult(false), NullLogger.Instance, TimeProvider.System);

        var held = "held";
        var others = Enumerable.Range(0, 100).Select(i => $"other-{i}")
            .Where(id => reminders.PartitionOf(id) != reminders.PartitionOf(held))
            .Take(2).ToList();
        store.Hold = reminders.StoreKey(Type, reminders.PartitionOf(held));

        var blocked = reminders.RegisterAsync(Type, held, "r", "1h", "", null, null, CancellationToken.None);
        await Poll.UntilAsync(() => store.Holding, "the held actor's write to reach the store");

        // Under a lock per actor type these would wait behind the held write; the deadline only bounds the test.
        await Task.WhenAll(others.Select(id => reminders.RegisterAsync(Type, id, "r", "1h", "", null, null, CancellationToken.None)))
            .WaitAsync(TimeSpan.FromSeconds(15));
        Assert.False(blocked.IsCompleted);

        store.Release();
        await blocked.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(new[] { held }.Concat(others).Select(id => $"{id}|r").Order(StringComparer.Ordinal).ToList(), await StoredAsync(store, reminders));
    }

    private Task<ConnectionMultiplexer> Connect() => ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");

    private static async Task<List<ReminderRecord>> RecordsAsync(IStateStore store, ActorReminders reminders)
    {
        var all = new List<ReminderRecord>();
        for (var p = 0; p < reminders.PartitionCount; p++)
        {
            if (await store.GetAsync(reminders.StoreKey(Type, p), CancellationToken.None) is { } item)
            {
                var list = JsonSerializer.Deserialize<List<ReminderRecord>>(item.Data.Span, Json)!;
                Assert.All(list, r => Assert.Equal(p, reminders.PartitionOf(r.ActorId)));
                all.AddRange(list);
            }
        }

        return all;
    }

    /// <summary>Every stored reminder of <see cref="Type"/> as <c>actor|name</c>, sorted (duplicates kept, so they show).</summary>
    private static async Task<List<string>> StoredAsync(IStateStore store, ActorReminders reminders) =>
        (await RecordsAsync(store, reminders)).Select(r => $"{r.ActorId}|{r.Name}").Order(StringComparer.Ordinal).ToList();

    private static async Task<List<int>> FiredCountsAsync(IStateStore store, ActorReminders reminders) =>
        (await RecordsAsync(store, reminders)).Select(r => r.Fired).ToList();

    /// <summary>Counts the calls that reach the store.</summary>
    private sealed class CountingStore(IStateStore inner) : IStateStore
    {
        private int _gets;
        private int _applies;

        public int Gets => _gets;

        public int Applies => _applies;

        public Task<StateItem?> GetAsync(string key, CancellationToken ct)
        {
            Interlocked.Increment(ref _gets);
            return inner.GetAsync(key, ct);
        }

        public Task<IReadOnlyList<string?>> ApplyAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct)
        {
            Interlocked.Increment(ref _applies);
            return inner.ApplyAsync(operations, ct);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Holds a write of one key until released; everything else goes straight through.</summary>
    private sealed class GatedStore(IStateStore inner) : IStateStore
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _holding;

        public string? Hold { get; set; }

        public bool Holding => _holding;

        public void Release() => _release.TrySetResult();

        public Task<StateItem?> GetAsync(string key, CancellationToken ct) => inner.GetAsync(key, ct);

        public async Task<IReadOnlyList<string?>> ApplyAsync(IReadOnlyList<StateOperation> operations, CancellationToken ct)
        {
            if (operations.Any(o => o.Key == Hold))
            {
                _holding = true;
                await _release.Task.WaitAsync(ct);
            }

            return await inner.ApplyAsync(operations, ct);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
