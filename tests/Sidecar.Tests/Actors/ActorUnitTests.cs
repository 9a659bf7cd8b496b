using Platform.Sidecar.Actors;
using Platform.Sidecar.Api;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>The pieces of the actor runtime that need no app: schedules, configuration, the turn lock, placement.</summary>
public sealed class ActorUnitTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0h0m5s0ms", 5_000)]
    [InlineData("0h0m0s250ms", 250)]
    [InlineData("1h0m0s0ms", 3_600_000)]
    [InlineData("PT10S", 10_000)]
    [InlineData("P1DT2H", 93_600_000)]
    [InlineData("", 0)]
    [InlineData("2026-01-01T00:00:07Z", 7_000)]
    public void Due_times_in_the_formats_the_sdks_send(string dueTime, int ms)
    {
        var s = ActorSchedule.Parse(dueTime, "", null, T0);
        Assert.Equal(T0.AddMilliseconds(ms), s.FirstDue);
        Assert.Null(s.Period);
    }

    [Theory]
    [InlineData("0h0m10s0ms", 10_000, null)]
    [InlineData("PT10S", 10_000, null)]
    [InlineData("R3/PT10S", 10_000, 3)]
    [InlineData("R2/P1DT1M", 86_460_000, 2)]
    [InlineData("@every 2s", 2_000, null)]
    [InlineData("@hourly", 3_600_000, null)]
    public void Periods_with_and_without_repetitions(string period, int ms, int? repetitions)
    {
        var s = ActorSchedule.Parse("0h0m0s0ms", period, null, T0);
        Assert.Equal(TimeSpan.FromMilliseconds(ms), s.Period);
        Assert.Equal(repetitions, s.Repetitions);
    }

    [Theory]
    [InlineData("soon", "")]
    [InlineData("", "R3")]
    [InlineData("5", "")]
    public void Unreadable_schedules_are_refused(string dueTime, string period) =>
        Assert.Throws<FormatException>(() => ActorSchedule.Parse(dueTime, period, null, T0));

    [Fact]
    public void A_repetition_count_ends_the_schedule_and_missed_firings_are_skipped_not_replayed()
    {
        var s = ActorSchedule.Parse("0h0m1s0ms", "R3/PT10S", null, T0);
        Assert.Equal(T0.AddSeconds(1), s.Next(0, null));
        Assert.Equal(T0.AddSeconds(11), s.Next(1, T0.AddSeconds(1)));
        Assert.Equal(T0.AddSeconds(21), s.Next(2, T0.AddSeconds(11)));
        Assert.Null(s.Next(3, T0.AddSeconds(21)));

        // Down for a minute after the first firing: the next firing is the next point on the grid after it came back.
        var every = ActorSchedule.Parse("0h0m1s0ms", "0h0m10s0ms", null, T0);
        Assert.Equal(T0.AddSeconds(71), every.Next(2, T0.AddSeconds(65)));

        var once = ActorSchedule.Parse("0h0m1s0ms", "", null, T0);
        Assert.Null(once.Next(1, T0.AddSeconds(1)));

        var ttl = ActorSchedule.Parse("0h0m1s0ms", "0h0m10s0ms", "0h0m15s0ms", T0);
        Assert.Equal(T0.AddSeconds(11), ttl.Next(1, T0.AddSeconds(1)));
        Assert.Null(ttl.Next(2, T0.AddSeconds(11)));
    }

    [Fact]
    public void A_ttl_counts_from_the_first_due_time_and_one_already_over_is_refused()
    {
        // daprd (pkg/actors reminders setReminderTimes): the TTL is parsed relative to the first due time, and a
        // schedule whose expiry comes before its first due time (or before now) is refused as already expired.
        var oneShot = ActorSchedule.Parse("0h0m2s0ms", "", "0h0m1s0ms", T0);
        Assert.Equal(T0.AddSeconds(3), oneShot.ExpiresAt);
        Assert.Equal(T0.AddSeconds(2), oneShot.Next(0, null));

        var twice = ActorSchedule.Parse("PT2S", "PT2S", "PT3S", T0);
        Assert.Equal(T0.AddSeconds(2), twice.Next(0, null));
        Assert.Equal(T0.AddSeconds(4), twice.Next(1, T0.AddSeconds(2)));
        Assert.Null(twice.Next(2, T0.AddSeconds(4)));

        Assert.Throws<FormatException>(() => ActorSchedule.Parse("0h0m5s0ms", "", T0.AddSeconds(2).ToString("O"), T0));
        Assert.Throws<FormatException>(() => ActorSchedule.Parse("", "PT1S", T0.AddSeconds(-1).ToString("O"), T0));
    }

    [Fact]
    public void The_app_config_the_dotnet_sdk_writes_is_read_with_per_type_overrides()
    {
        var json = """
            {"entities":["CartActor","OrderActor"],"actorIdleTimeout":"0h30m0s0ms","actorScanInterval":"0h0m10s0ms",
             "drainOngoingCallTimeout":"0h0m20s0ms","drainRebalancedActors":true,
             "reentrancy":{"enabled":false,"maxStackDepth":32},
             "entitiesConfig":[{"entities":["OrderActor"],"actorIdleTimeout":"0h0m1s500ms","reentrancy":{"enabled":true,"maxStackDepth":8}}]}
            """;

        var config = ActorAppConfig.Parse(Encoding.UTF8.GetBytes(json));

        var cart = config.Types["CartActor"];
        Assert.Equal(TimeSpan.FromMinutes(30), cart.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), cart.ScanInterval);
        Assert.Equal(TimeSpan.FromSeconds(20), cart.DrainOngoingCallTimeout);
        Assert.True(cart.DrainRebalancedActors);
        Assert.False(cart.Reentrancy);
        var order = config.Types["OrderActor"];
        Assert.Equal(TimeSpan.FromMilliseconds(1500), order.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), order.ScanInterval);
        Assert.True(order.Reentrancy);
        Assert.Equal(8, order.MaxStackDepth);

        var defaults = ActorAppConfig.Parse("""{"entities":["A"]}"""u8).Types["A"];
        Assert.Equal(TimeSpan.FromMinutes(60), defaults.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), defaults.ScanInterval);
        Assert.Equal(32, defaults.MaxStackDepth);
    }

    [Fact]
    public async Task The_turn_lock_serves_waiters_in_order_and_lets_the_holders_chain_reenter()
    {
        var turnLock = new ActorTurnLock();
        var order = new List<int>();
        var first = await turnLock.EnterAsync("chain-1", 3, CancellationToken.None);

        var waiters = Enumerable.Range(1, 5).Select(async i =>
        {
            using var t = await turnLock.EnterAsync(null, 3, CancellationToken.None);
            lock (order)
            {
                order.Add(i);
            }
        }).ToList();

        // The holder's chain enters at once, twice more; a fourth level is refused.
        using (await turnLock.EnterAsync("chain-1", 3, CancellationToken.None))
        using (await turnLock.EnterAsync("chain-1", 3, CancellationToken.None))
        {
            var e = await Assert.ThrowsAsync<DaprError>(() => turnLock.EnterAsync("chain-1", 3, CancellationToken.None).AsTask());
            Assert.Equal("ERR_ACTOR_STACK_DEPTH", e.ErrorCode);
        }

        Assert.Empty(order);
        first.Dispose();
        await Task.WhenAll(waiters);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, order);
        Assert.False(turnLock.Busy);
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue()
    {
        var turnLock = new ActorTurnLock();
        var held = await turnLock.EnterAsync(null, 32, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = turnLock.EnterAsync(null, 32, cts.Token).AsTask();
        var next = turnLock.EnterAsync(null, 32, CancellationToken.None).AsTask();

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        held.Dispose();
        (await next).Dispose();
        Assert.False(turnLock.Busy);
    }

    [Fact]
    public void Placement_spreads_actors_and_moves_only_those_of_a_leaving_host()
    {
        var folder = Path.Combine(Path.GetTempPath(), "platform-actor-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var registry = new NameRegistry(folder);
            var placement = new ActorPlacement(registry);
            var hosts = Enumerable.Range(0, 3)
                .Select(i => new Replica("app", $"instance-{i}", $"http://127.0.0.1:{1000 + i}", Environment.ProcessId, ["T"])).ToArray();
            var ids = Enumerable.Range(0, 3000).Select(i => $"id-{i}").ToList();

            var before = ids.ToDictionary(id => id, id => placement.Owner(hosts, id)!.InstanceId);
            var shares = before.Values.GroupBy(h => h).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(3, shares.Count);
            Assert.All(shares.Values, n => Assert.InRange(n, 600, 1400));

            var after = ids.ToDictionary(id => id, id => placement.Owner(hosts[..2], id)!.InstanceId);
            Assert.All(ids.Where(id => before[id] != "instance-2"), id => Assert.Equal(before[id], after[id]));

            // Through the registry: only replicas whose app hosts the type count.
            using var withType = registry.Register(hosts[0]);
            using var without = registry.Register(new Replica("other", "instance-9", "http://127.0.0.1:999", Environment.ProcessId));
            Assert.Equal("instance-0", Assert.Single(placement.Hosts("T", fresh: true)).InstanceId);
            Assert.Empty(placement.Hosts("U", fresh: true));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
