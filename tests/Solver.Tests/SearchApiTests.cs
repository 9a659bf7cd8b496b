using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Optimizer.Testing;
using Platform.Tsp;

namespace Platform.Solver.Tests;

/// <summary>Solver replicas behind real sidecars, called as another service would: through a sidecar, by app-id.</summary>
public sealed class SearchApiTests
{
    private static double[][] Cities(int n, int seed = 1)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => new double[] { r.Next(0, 1000), r.Next(0, 1000) })];
    }

    private static async Task<JsonElement> SearchAsync(HttpClient solver, object body)
    {
        using var response = await solver.PostAsJsonAsync("search", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Search_ThroughTheSidecar_ReturnsAnImprovedTourWithItsExactLength()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);
        var cities = Cities(80);
        var instance = Instance.FromCities(cities);
        var start = StartTours.NearestNeighbour(instance);

        var result = await SearchAsync(cluster.Solver, new { cities, tour = start, seed = 7, budgetMs = 300 });

        var tour = result.GetProperty("tour").Deserialize<int[]>()!;
        Assert.True(instance.IsTour(tour));
        Assert.Equal(instance.Length(tour), result.GetProperty("length").GetInt64());
        Assert.True(result.GetProperty("length").GetInt64() < instance.Length(start));
        Assert.True(result.GetProperty("moves").GetInt64() > 0);
        Assert.Equal("solver-1", result.GetProperty("replicaId").GetString());
    }

    [Fact]
    public async Task Search_AttWithoutTour_StartsGreedyAndMeasuresPseudoEuclidean()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);
        var cities = Cities(30, 5);

        var result = await SearchAsync(cluster.Solver, new { cities, metric = "ATT", seed = 1, budgetMs = 100, start = "curve" });

        var tour = result.GetProperty("tour").Deserialize<int[]>()!;
        Assert.Equal(Instance.FromCities(cities, Metric.Att).Length(tour), result.GetProperty("length").GetInt64());
    }

    public static TheoryData<string, string> BadRequests() => new()
    {
        { """{"cities":[[0,0],[1,1]],"budgetMs":100}""", "cities" },
        { """{"budgetMs":100}""", "cities" },
        { """{"cities":[[0,0],[1,1],[2]],"budgetMs":100}""", "cities" },
        { """{"cities":[[0,0],[1,1],[1e300,2]],"budgetMs":100}""", "cities" },
        { """{"cities":[[0,0],[1,1],[2,2]],"tour":[0,1,1],"budgetMs":100}""", "tour" },
        { """{"cities":[[0,0],[1,1],[2,2]],"tour":[0,1],"budgetMs":100}""", "tour" },
        { """{"cities":[[0,0],[1,1],[2,2]],"tour":[0,1,3],"budgetMs":100}""", "tour" },
        { """{"cities":[[0,0],[1,1],[2,2]],"budgetMs":0}""", "budgetMs" },
        { """{"cities":[[0,0],[1,1],[2,2]],"budgetMs":600000}""", "budgetMs" },
        { """{"cities":[[0,0],[1,1],[2,2]],"budgetMs":100,"metric":"GEO"}""", "metric" },
        { """{"cities":[[0,0],[1,1],[2,2]],"budgetMs":100,"scheduleFrom":0.8,"scheduleTo":0.2}""", "scheduleFrom" },
        { """{"cities":[[0,0],[1,1],[2,2]],"budgetMs":100,"start":"random"}""", "start" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Search_BadInput_400NamingTheField(string body, string field)
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);

        using var response = await cluster.Solver.PostAsync("search", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _), $"errors.{field}");
        var load = await cluster.Solver.GetFromJsonAsync<JsonElement>("load");
        Assert.Equal(0, load.GetProperty("searches").GetInt64());
    }

    [Fact]
    public async Task Search_OversizeOrMalformed_400()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);

        using var oversize = await cluster.Solver.PostAsJsonAsync("search", new { cities = Cities(10_001), budgetMs = 100 });
        using var malformed = await cluster.Solver.PostAsync("search", new StringContent("{\"cities\": [[0,0],", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, oversize.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    public async Task Calls_AlternateOverTheReplicas()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 2, routing: false);
        var cities = Cities(20);

        var replicas = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            replicas.Add((await SearchAsync(cluster.Solver, new { cities, seed = i, budgetMs = 20 })).GetProperty("replicaId").GetString()!);
        }

        Assert.All(replicas.Zip(replicas.Skip(1)), p => Assert.NotEqual(p.First, p.Second));
        Assert.Equal(3, replicas.Count(r => r == "solver-1"));
        Assert.Equal(3, replicas.Count(r => r == "solver-2"));
    }

    [Fact]
    public async Task MaxConcurrencyOne_NeverRunsTwoSearchesAtOnce()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, solverMaxConcurrency: 1, routing: false);
        var cities = Cities(100);

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => SearchAsync(cluster.Solver, new { cities, seed = i, budgetMs = 150 })));

        var spans = results
            .Select(r => (Start: r.GetProperty("startedAt").GetDateTimeOffset(), End: r.GetProperty("finishedAt").GetDateTimeOffset()))
            .OrderBy(s => s.Start)
            .ToList();
        Assert.All(spans.Zip(spans.Skip(1)), p => Assert.True(p.Second.Start >= p.First.End, $"{p.Second.Start:O} starts before {p.First.End:O} ends"));
        Assert.Equal(1, (await cluster.Solver.GetFromJsonAsync<JsonElement>("load")).GetProperty("maxInFlight").GetInt32());
    }

    [Fact]
    public async Task UnlimitedConcurrency_RunsSearchesTogether()
    {
        // The control for the test above: without the cap, the same calls do overlap (so that test can fail).
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, solverMaxConcurrency: -1, routing: false);
        var cities = Cities(100);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => SearchAsync(cluster.Solver, new { cities, seed = i, budgetMs = 300 })));

        Assert.True((await cluster.Solver.GetFromJsonAsync<JsonElement>("load")).GetProperty("maxInFlight").GetInt32() >= 2);
    }

    [Fact]
    public async Task Load_IsPublishedOnSolverLoad_WithMovesWhileSearching()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);

        await SearchAsync(cluster.Solver, new { cities = Cities(200), seed = 1, budgetMs = 2500 });

        await Poll.UntilAsync(() => cluster.Loads.Any(l => l.GetProperty("movesPerSecond").GetDouble() > 0), "a solver-load report with moves");
        var busy = cluster.Loads.First(l => l.GetProperty("movesPerSecond").GetDouble() > 0);
        Assert.Equal("solver-1", busy.GetProperty("replicaId").GetString());
        Assert.InRange(busy.GetProperty("cpu").GetDouble(), 0.0, Environment.ProcessorCount + 0.5);
        Assert.InRange(busy.GetProperty("inFlight").GetInt32(), 0, 1);
        Assert.True(busy.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
    }
}
