using Platform.Host.Tests.Infrastructure;
using Platform.Host.Topology;

namespace Platform.Host.Tests;

/// <summary>The scatter–gather optimizer as tye.yaml declares it: a pool of solvers, one search per replica at a time.</summary>
public sealed class OptimizerTopologyTests
{
    [Fact]
    public void RepositoryTyeYaml_SolverPoolOfTwo_OneSearchPerReplica_OneRouting()
    {
        var app = TyeFile.Load(Path.Combine(Repo.Root, "tye.yaml"));

        var solver = app.Services.Single(s => s.Name == "solver");
        var routing = app.Services.Single(s => s.Name == "routing");
        Assert.Equal(2, solver.Replicas);
        Assert.Equal(1, app.DaprFor(solver)!.AppMaxConcurrency);
        Assert.Equal(1, routing.Replicas);
        Assert.Null(app.DaprFor(routing)!.AppMaxConcurrency);
    }
}
