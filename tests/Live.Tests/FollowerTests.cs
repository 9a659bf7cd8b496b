using Platform.Live.Tests.Infrastructure;

namespace Platform.Live.Tests;

/// <summary>Followers come and go, deltas get lost, browsers reconnect: the users' streams stay right.</summary>
public sealed class FollowerTests
{
    [Fact]
    public async Task FollowerKilled_OtherFollowersStreamsUndisturbed_NewFollowerStartsFromSnapshotThenFollows()
    {
        await using var cluster = await LiveCluster.StartAsync(followers: 2);
        var (doomed, survivor) = (cluster.Followers.First(), cluster.Followers.Last());
        var clients = Enumerable.Range(0, 5).Select(_ => survivor.Stream("dave")).ToList();
        await using var onDoomed = doomed.Stream("dave");
        try
        {
            await cluster.OpenAsync("dave-1", "dave");
            for (var i = 0; i < 5; i++)
            {
                // One sample per solver: each is a delta whatever order they arrive in.
                await cluster.LoadAsync($"solver-a{i}", i / 10.0);
            }

            await Poll.UntilAsync(() => clients.All(c => c.DeltaSeqs().Count >= 6) && onDoomed.DeltaSeqs().Count >= 6, "every client to get the first 6 deltas");

            await cluster.StopAsync(doomed);
            await Poll.UntilAsync(() => onDoomed.Ended, "the stream on the stopped follower to end");
            for (var i = 0; i < 10; i++)
            {
                await cluster.LoadAsync("solver-1", 0.5 + i / 100.0);
            }

            // Samples of one solver may arrive in any order; the leader ends on the newest (0.59) and drops older
            // ones that come after it, so once it shows 0.59 no more load deltas follow.
            var last = (await Poll.UntilAsync(cluster.Leader.SnapshotAsync,
                s => s.Loads.Any(l => l.ReplicaId == "solver-1" && Math.Abs(l.Cpu - 0.59) < 1e-9), "the leader to show solver-1's newest sample")).Seq;
            Assert.InRange(last, 7, 16);
            await Poll.UntilAsync(() => clients.All(c => c.DeltaSeqs().LastOrDefault() == last), "the survivor's clients to get every delta");
            foreach (var client in clients)
            {
                // Undisturbed: still the one stream, one snapshot, then every delta exactly once and in order.
                Assert.False(client.Ended);
                Assert.Single(client.OfType("snapshot"));
                Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), client.DeltaSeqs());
            }

            // A new follower: its first snapshot already has everything, then it follows the deltas.
            var fresh = await cluster.AddFollowerAsync();
            await using var onFresh = fresh.Stream("dave");
            await Poll.UntilAsync(() => onFresh.OfType("snapshot").Any(), "the new follower's snapshot");
            var snapshot = onFresh.OfType("snapshot").Single().Data;
            Assert.Equal(last, snapshot.GetProperty("seq").GetInt64());
            Assert.Equal(0.59, snapshot.GetProperty("loads").EnumerateArray().Single(l => l.GetProperty("replicaId").GetString() == "solver-1").GetProperty("cpu").GetDouble(), 3);
            Assert.Equal("dave-1", snapshot.GetProperty("accounts")[0].GetProperty("accountId").GetString());

            await cluster.DepositAsync("dave-1", 2, 7m);
            await Poll.UntilAsync(() => onFresh.DeltaSeqs().Contains(last + 1), "the new follower to follow the next delta");
            var mirror = await fresh.MirrorAsync();
            Assert.Equal(1, mirror.Resyncs);
            Assert.Equal(0, mirror.GapsDetected);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task DeltaDropped_FollowerDetectsGapAndResyncs_ClientsGetFreshSnapshot()
    {
        // The follower loses delta 3 on the way, as a broker might.
        await using var cluster = await LiveCluster.StartAsync(1, ("Live:DropSequence", "3"), ("Live:GapTimeout", "00:00:00.300"));
        var follower = cluster.Followers.Single();
        await using var erin = follower.Stream("erin");
        await Poll.UntilAsync(() => erin.OfType("snapshot").Any(), "the first snapshot");

        await cluster.OpenAsync("erin-1", "erin");
        await cluster.DepositAsync("erin-1", 2, 1m);
        await cluster.DepositAsync("erin-1", 3, 2m);   // delta 3: dropped
        await cluster.DepositAsync("erin-1", 4, 4m);

        var mirror = await Poll.UntilAsync(follower.MirrorAsync, m => m.Seq >= 4 && m.Resyncs >= 2, "the follower to resync past the gap");
        Assert.True(mirror.GapsDetected >= 1);

        // The client never saw delta 3; it got a new snapshot that includes it instead.
        await Poll.UntilAsync(() => erin.OfType("snapshot").Count() >= 2, "a fresh snapshot after the resync");
        Assert.DoesNotContain(3L, erin.DeltaSeqs());
        var fresh = erin.OfType("snapshot").Last().Data;
        Assert.True(fresh.GetProperty("seq").GetInt64() >= 3);
        Assert.Equal(7m, fresh.GetProperty("accounts")[0].GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task Reconnect_WithLastEventId_GetsOnlyWhatWasMissed()
    {
        await using var cluster = await LiveCluster.StartAsync(followers: 2);
        var (first, second) = (cluster.Followers.First(), cluster.Followers.Last());
        string lastId;
        await using (var before = first.Stream("frank"))
        {
            await cluster.OpenAsync("frank-1", "frank");
            await Poll.UntilAsync(() => before.DeltaSeqs().Contains(1), "the first delta");
            lastId = before.LastEventId!;
        }

        await cluster.DepositAsync("frank-1", 2, 3m);
        await cluster.DepositAsync("frank-1", 3, 4m);
        await Poll.UntilAsync(async () => (await second.MirrorAsync()).Seq, s => s == 3, "the other follower at sequence 3");

        // Reconnecting to the other follower (the first may be gone): no snapshot, just deltas 2 and 3.
        await using var after = second.Stream("frank", lastId);
        await Poll.UntilAsync(() => after.DeltaSeqs().Count >= 2, "the missed deltas");
        Assert.Empty(after.OfType("snapshot"));
        Assert.Equal([2L, 3L], after.DeltaSeqs());
    }

    [Fact]
    public async Task LeaderRestarted_ContinuesFromSavedViews_FollowersResyncToItsNewEpoch()
    {
        await using var cluster = await LiveCluster.StartAsync(followers: 1);
        var follower = cluster.Followers.Single();
        await cluster.OpenAsync("gina-1", "gina");
        await cluster.DepositAsync("gina-1", 2, 20m);
        var before = await Poll.UntilAsync(follower.MirrorAsync, m => m.Seq == 2, "the follower at sequence 2");

        await cluster.Leader.RestartAppAsync();
        await cluster.DepositAsync("gina-1", 3, 2.5m);

        // The restarted leader loaded its saved views (balance 20) and continued; the follower moved to its epoch.
        var after = await Poll.UntilAsync(follower.MirrorAsync, m => m.Epoch != before.Epoch && m.Seq == 3, "the follower on the new epoch at sequence 3");
        Assert.Equal(2, after.Resyncs);
        var snapshot = await cluster.Leader.SnapshotAsync();
        Assert.Equal(22.5m, Assert.Single(snapshot.Accounts).Balance);
        await using var gina = follower.Stream("gina");
        await Poll.UntilAsync(() => gina.OfType("snapshot").Any(), "a snapshot");
        Assert.Equal(22.5m, gina.OfType("snapshot").First().Data.GetProperty("accounts")[0].GetProperty("balance").GetDecimal());
    }
}
