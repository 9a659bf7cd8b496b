using Dapr.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Live.Leader;

namespace Platform.Live.Tests;

/// <summary>The leader's own rules, decided without a broker: what it does with events that arrive out of order.</summary>
public sealed class LeaderTests
{
    [Fact]
    public void OnLoad_OlderSampleArrivesAfterNewer_ViewKeepsNewestAndEmitsNothing()
    {
        using var dapr = new DaprClientBuilder().Build();
        var leader = new ViewsLeader(dapr, NullLogger<ViewsLeader>.Instance, TimeProvider.System);
        var t0 = DateTimeOffset.UtcNow;

        Assert.True(leader.OnLoad(new SolverLoad("solver-1", 0.59, 1, 1, t0.AddSeconds(2))));
        Assert.True(leader.OnLoad(new SolverLoad("solver-1", 0.57, 1, 1, t0.AddSeconds(1))));   // late, older
        Assert.True(leader.OnLoad(new SolverLoad("solver-2", 0.10, 1, 1, t0)));                 // another solver is not older

        var snapshot = leader.Snapshot();
        Assert.Equal(0.59, snapshot.Loads.Single(l => l.ReplicaId == "solver-1").Cpu);
        Assert.Equal(0.10, snapshot.Loads.Single(l => l.ReplicaId == "solver-2").Cpu);
        Assert.Equal(2, snapshot.Seq);
    }
}
