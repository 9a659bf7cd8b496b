using System.Net;
using System.Text.Json;
using Platform.Live.Tests.Infrastructure;

namespace Platform.Live.Tests;

/// <summary>From the upstream streams, through the leader's deltas, to a user's event stream on a follower.</summary>
public sealed class ViewsTests
{
    [Fact]
    public async Task Streams_UserSeesOwnAccountsAndJobsAndSharedLoad_NotOthers()
    {
        await using var cluster = await LiveCluster.StartAsync(followers: 1);
        var follower = cluster.Followers.Single();
        await using var alice = follower.Stream("alice");
        await using var bob = follower.Stream("bob");
        await Poll.UntilAsync(() => alice.OfType("snapshot").Any() && bob.OfType("snapshot").Any(), "both snapshots");

        await cluster.OpenAsync("alice-1", "alice");
        await cluster.DepositAsync("alice-1", 2, 40.5m);
        await cluster.LoadAsync("solver-1", 0.75);
        double[][] cities = [[0, 0], [10, 0], [10, 10], [0, 10]];
        foreach (var (round, length, tour) in new[] { (1, 48.3, new[] { 0, 2, 1, 3 }), (2, 40.0, new[] { 0, 1, 2, 3 }) })
        {
            await cluster.PublishAsync(Components.RoutesTopic, new
            {
                jobId = "job-1", owner = "alice", name = "square", round, status = round == 2 ? "completed" : "running",
                bestLength = length, tour, cities, elapsedMs = round * 100, budgetMs = 200,
            });
        }

        await Poll.UntilAsync(() => Balance(alice, "alice-1") == 40.5m && Job(alice, "job-1") is { } j && j.GetProperty("status").GetString() == "completed"
            && alice.OfType("delta").Any(e => e.Data.TryGetProperty("load", out _)), "alice's balance, finished job and the solver load");

        // The job's cities travel once (with the job's first delta), and the stream still lets the page draw round
        // 2's tour. When the follower resynced in between (a fresh snapshot replaces deltas it did not apply in
        // order), round 1 reaches alice inside that snapshot instead of as a delta: the cities come with it.
        var jobDeltas = alice.OfType("delta").Where(e => e.Data.TryGetProperty("job", out _)).Select(e => e.Data.GetProperty("job")).ToList();
        Assert.Equal(40.0, jobDeltas[^1].GetProperty("bestLength").GetDouble());
        // Rounds may also arrive out of order (pub/sub does not promise order): a later round seen first is the
        // job's first delta, and the older round is then ignored.
        var citiesFromDelta = jobDeltas[0].TryGetProperty("cities", out var sent) && sent.GetArrayLength() == 4;
        var citiesFromSnapshot = alice.OfType("snapshot").Any(e => e.Data.GetProperty("jobs").EnumerateArray()
            .Any(j => j.GetProperty("jobId").GetString() == "job-1" && j.GetProperty("cities").GetArrayLength() == 4));
        Assert.True(citiesFromDelta || citiesFromSnapshot, $"{jobDeltas.Count} job delta(s); cities in a snapshot: {citiesFromSnapshot}");
        Assert.DoesNotContain(jobDeltas.Skip(1), j => j.TryGetProperty("cities", out _));

        // Bob sees the shared panels (load, totals) but none of alice's accounts or jobs.
        await Poll.UntilAsync(() => bob.OfType("delta").Any(e => e.Data.TryGetProperty("load", out _)), "bob to get the solver load");
        Assert.DoesNotContain(bob.Events, e => e.Data.TryGetProperty("account", out _) || e.Data.TryGetProperty("job", out _));
        Assert.Contains(bob.OfType("delta"), e => e.Data.TryGetProperty("totals", out var t) && t.GetProperty("balance").GetDecimal() == 40.5m);

        // A new stream for alice starts from a snapshot that already has it all.
        await using var later = follower.Stream("alice");
        await Poll.UntilAsync(() => later.OfType("snapshot").Any(), "a snapshot");
        var snapshot = later.OfType("snapshot").First().Data;
        Assert.Equal(40.5m, snapshot.GetProperty("accounts")[0].GetProperty("balance").GetDecimal());
        Assert.Equal(4, snapshot.GetProperty("jobs")[0].GetProperty("cities").GetArrayLength());
    }

    [Fact]
    public async Task Ledger_RedeliveredAndOutOfOrderEvents_BalanceCountsEachOnce()
    {
        await using var cluster = await LiveCluster.StartAsync(followers: 0);
        await cluster.OpenAsync("acc-1", "carol");
        await cluster.DepositAsync("acc-1", 3, 5m);   // ahead of 2
        await cluster.DepositAsync("acc-1", 2, 10m);
        await cluster.DepositAsync("acc-1", 2, 10m);  // redelivered
        await cluster.DepositAsync("acc-1", 3, 5m);   // redelivered

        var snapshot = await Poll.UntilAsync(cluster.Leader.SnapshotAsync, s => s.Accounts.Any(a => a.Sequence == 3), "the account at sequence 3");
        var account = Assert.Single(snapshot.Accounts);
        Assert.Equal(15m, account.Balance);
        Assert.Equal("carol", account.Owner);
        Assert.Equal(15m, snapshot.Totals.Balance);
    }

    [Fact]
    public async Task Events_WithoutUser_Is400ProblemDetails()
    {
        await using var cluster = await LiveCluster.StartAsync(followers: 1);
        using var response = await cluster.Followers.Single().Http.GetAsync("events");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("user-required", problem.RootElement.GetProperty("code").GetString());
    }

    private static decimal? Balance(SseClient client, string accountId) => client.OfType("delta")
        .Where(e => e.Data.TryGetProperty("account", out var a) && a.GetProperty("accountId").GetString() == accountId)
        .Select(e => (decimal?)e.Data.GetProperty("account").GetProperty("balance").GetDecimal()).LastOrDefault();

    private static JsonElement? Job(SseClient client, string jobId) => client.OfType("delta")
        .Where(e => e.Data.TryGetProperty("job", out var j) && j.GetProperty("jobId").GetString() == jobId)
        .Select(e => (JsonElement?)e.Data.GetProperty("job")).LastOrDefault();
}
