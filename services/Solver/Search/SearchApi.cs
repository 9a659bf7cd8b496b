using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Solver.Load;
using Platform.Tsp;

namespace Platform.Solver.Search;

/// <summary>A sub-search: the cities, where to start, how long, which slice of the annealing schedule.</summary>
public sealed record SearchRequest(
    double[][]? Cities,
    string? Metric,
    int[]? Tour,
    long? Seed,
    int BudgetMs,
    long? MaxMoves,
    double? ScheduleFrom,
    double? ScheduleTo,
    string? Start);

public sealed record SearchResponse(
    int[] Tour,
    long Length,
    long Moves,
    long Accepted,
    long ElapsedMs,
    string ReplicaId,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt);

public static class SearchApi
{
    public const int MaxCities = 10_000;
    public const int MaxBudgetMs = 60_000;
    public const double MaxCoordinate = 1e8; // keeps every edge length inside an int

    public static IEndpointRouteBuilder MapSearchApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/search", Search);
        return app;
    }

    /// <summary>
    /// Runs on the request's thread: the search is pure CPU work, and <c>app-max-concurrency</c> on the sidecar is
    /// what bounds how many run at once (one per core is the sweet spot).
    /// </summary>
    internal static Results<Ok<SearchResponse>, ValidationProblem> Search(
        SearchRequest request, AnnealerCache annealers, SolverLoad load, IOptions<SolverOptions> options, CancellationToken cancellationToken)
    {
        var errors = Validate(request, out var metric);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        using var activity = SolverExtensions.Activity.StartActivity("search");
        var annealer = annealers.For(request.Cities!, metric);
        var instance = annealer.Instance;
        var start = request.Tour ?? (request.Start?.ToUpperInvariant() == "CURVE" || instance.Count > 3000
            ? StartTours.SpaceFillingCurve(instance)
            : StartTours.NearestNeighbour(instance));
        var settings = new SearchSettings(
            request.Seed ?? Random.Shared.NextInt64(),
            TimeSpan.FromMilliseconds(request.BudgetMs),
            request.MaxMoves,
            request.ScheduleFrom ?? 0,
            request.ScheduleTo ?? 1);
        var startedAt = DateTimeOffset.UtcNow;
        using (load.Enter())
        {
            var result = annealer.Run(start, settings, load.Moves, cancellationToken);
            activity?.SetTag("tsp.cities", instance.Count);
            activity?.SetTag("tsp.moves", result.Moves);
            return TypedResults.Ok(new SearchResponse(
                result.Tour, result.Length, result.Moves, result.Accepted, (long)result.Elapsed.TotalMilliseconds,
                options.Value.ReplicaId!, startedAt, DateTimeOffset.UtcNow));
        }
    }

    private static Dictionary<string, string[]> Validate(SearchRequest r, out Metric metric)
    {
        var errors = new Dictionary<string, string[]>();
        if (!Metrics.TryParse(r.Metric, out metric))
        {
            errors["metric"] = [$"'{r.Metric}' is not supported (EUC_2D, CEIL_2D, ATT)"];
        }

        if (r.Cities is not { } cities || cities.Length < 3)
        {
            errors["cities"] = ["at least 3 cities, each [x, y]"];
            return errors;
        }

        if (cities.Length > MaxCities)
        {
            errors["cities"] = [$"at most {MaxCities} cities"];
            return errors;
        }

        for (var i = 0; i < cities.Length; i++)
        {
            if (cities[i] is not [var x, var y] || !Finite(x) || !Finite(y))
            {
                errors["cities"] = [$"city {i} is not [x, y] with finite coordinates of magnitude at most {MaxCoordinate:0e0}"];
                break;
            }
        }

        if (r.Tour is { } tour && !IsPermutation(tour, cities.Length))
        {
            errors["tour"] = [$"the tour must visit each of the {cities.Length} cities (0..{cities.Length - 1}) exactly once"];
        }

        if (r.BudgetMs is < 1 or > MaxBudgetMs)
        {
            errors["budgetMs"] = [$"between 1 and {MaxBudgetMs}"];
        }

        if (r.MaxMoves is < 1)
        {
            errors["maxMoves"] = ["at least 1"];
        }

        if (r.ScheduleFrom is < 0 or > 1 or double.NaN || r.ScheduleTo is < 0 or > 1 or double.NaN || (r.ScheduleFrom ?? 0) > (r.ScheduleTo ?? 1))
        {
            errors["scheduleFrom"] = ["scheduleFrom and scheduleTo are in [0, 1] and scheduleFrom <= scheduleTo"];
        }

        if (r.Start is { } s && !s.Equals("greedy", StringComparison.OrdinalIgnoreCase) && !s.Equals("curve", StringComparison.OrdinalIgnoreCase))
        {
            errors["start"] = ["'greedy' (nearest neighbour) or 'curve' (Hilbert curve)"];
        }

        return errors;
    }

    private static bool Finite(double v) => double.IsFinite(v) && Math.Abs(v) <= MaxCoordinate;

    private static bool IsPermutation(int[] tour, int n)
    {
        if (tour.Length != n)
        {
            return false;
        }

        var seen = new bool[n];
        foreach (var c in tour)
        {
            if ((uint)c >= (uint)n || seen[c])
            {
                return false;
            }

            seen[c] = true;
        }

        return true;
    }
}

/// <summary>
/// Annealers of the last few instances: a job sends the same cities every round, and the distance matrix and
/// neighbour lists cost more than a short sub-search on large instances. An annealer is immutable, so shared.
/// </summary>
public sealed class AnnealerCache
{
    private const int Capacity = 8;
    private readonly Lock _lock = new();
    private readonly LinkedList<Annealer> _recent = new();

    public Annealer For(double[][] cities, Metric metric)
    {
        lock (_lock)
        {
            for (var node = _recent.First; node is not null; node = node.Next)
            {
                if (Same(node.Value.Instance, cities, metric))
                {
                    _recent.Remove(node);
                    _recent.AddFirst(node);
                    return node.Value;
                }
            }
        }

        var annealer = new Annealer(Instance.FromCities(cities, metric));
        lock (_lock)
        {
            _recent.AddFirst(annealer);
            while (_recent.Count > Capacity)
            {
                _recent.RemoveLast();
            }
        }

        return annealer;
    }

    private static bool Same(Instance instance, double[][] cities, Metric metric)
    {
        if (instance.Metric != metric || instance.Count != cities.Length)
        {
            return false;
        }

        for (var i = 0; i < cities.Length; i++)
        {
            if (instance.X[i] != cities[i][0] || instance.Y[i] != cities[i][1])
            {
                return false;
            }
        }

        return true;
    }
}
