using System.Text.RegularExpressions;
using Dapr.Actors;
using Dapr.Actors.Client;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Platform.Tsp;

namespace Platform.Routing.Jobs;

/// <summary>The contract's job body: exactly one of <c>tsplib</c>, <c>cities</c> or <c>instance</c>.</summary>
public sealed record CreateJob(
    string? Name,
    string? Owner,
    string? Tsplib,
    double[][]? Cities,
    string? Metric,
    string? Instance,
    int? BudgetMs,
    int? Parallelism,
    string? Strategy,
    long? Seed);

public sealed record JobCreated(string JobId);

/// <summary>Jobs in (validated here: nothing reaches an actor unless it is well-formed), progress out.</summary>
public static partial class JobsApi
{
    public const int DefaultParallelism = 2;

    public static void MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs");
        jobs.MapPost("/", Create);
        jobs.MapGet("/{jobId}", Get);
        jobs.MapPost("/{jobId}/cancel", Cancel);
        app.MapGet("/instances", (ShippedInstances shipped) => TypedResults.Ok(shipped.List()));
    }

    public static async Task<Results<Accepted<JobCreated>, ValidationProblem>> Create(
        CreateJob body, IActorProxyFactory actors, ShippedInstances shipped, IOptions<RoutingOptions> options)
    {
        var limits = options.Value;
        var errors = new Dictionary<string, string[]>();
        var instance = Source(body, shipped, limits, errors);
        if (body.BudgetMs is not { } budget || budget < 100 || budget > limits.MaxBudgetMs)
        {
            errors["budgetMs"] = [$"required, between 100 and {limits.MaxBudgetMs}"];
        }

        var parallelism = body.Parallelism ?? DefaultParallelism;
        if (parallelism < 1 || parallelism > limits.MaxParallelism)
        {
            errors["parallelism"] = [$"between 1 and {limits.MaxParallelism}"];
        }

        var strategy = body.Strategy?.ToLowerInvariant() ?? Strategies.Independent;
        if (!Strategies.All.Contains(strategy))
        {
            errors["strategy"] = [$"one of: {string.Join(", ", Strategies.All)}"];
        }

        if (body.Name is { Length: > 200 })
        {
            errors["name"] = ["at most 200 characters"];
        }

        if (body.Owner is { Length: > 200 })
        {
            errors["owner"] = ["at most 200 characters"];
        }

        if (errors.Count > 0 || instance is null)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var jobId = $"job-{Guid.NewGuid():N}"[..16];
        var spec = new JobSpec(
            body.Name ?? instance.Name, body.Owner ?? "anonymous", instance.Cities(), instance.Metric.Name(),
            body.BudgetMs!.Value, parallelism, strategy, limits.RoundMs, body.Seed ?? Random.Shared.NextInt64());
        await Job(actors, jobId).StartAsync(spec);
        return TypedResults.Accepted($"/jobs/{jobId}", new JobCreated(jobId));
    }

    public static async Task<Results<Ok<JobView>, NotFound<ProblemDetails>>> Get(string jobId, IActorProxyFactory actors) =>
        ValidId(jobId) && await Job(actors, jobId).GetAsync() is { } view ? TypedResults.Ok(view) : NotFound(jobId);

    public static async Task<Results<Ok<JobView>, NotFound<ProblemDetails>>> Cancel(string jobId, IActorProxyFactory actors) =>
        ValidId(jobId) && await Job(actors, jobId).CancelAsync() is { } view ? TypedResults.Ok(view) : NotFound(jobId);

    private static Instance? Source(CreateJob body, ShippedInstances shipped, RoutingOptions limits, Dictionary<string, string[]> errors)
    {
        var given = (body.Tsplib is null ? 0 : 1) + (body.Cities is null ? 0 : 1) + (body.Instance is null ? 0 : 1);
        if (given != 1)
        {
            errors["tsplib"] = ["give exactly one of tsplib (TSPLIB text), cities ([[x, y], ...]) or instance (a shipped instance's name)"];
            return null;
        }

        Instance instance;
        if (body.Tsplib is { } text)
        {
            try
            {
                instance = TspLib.Parse(text);
            }
            catch (TspLibException e)
            {
                errors["tsplib"] = [e.Message];
                return null;
            }
        }
        else if (body.Instance is { } name)
        {
            if (!shipped.All.TryGetValue(name, out instance!))
            {
                errors["instance"] = [$"'{name}' is not a shipped instance (GET /instances lists them)"];
                return null;
            }
        }
        else
        {
            var cities = body.Cities!;
            if (!Metrics.TryParse(body.Metric, out var metric))
            {
                errors["metric"] = ["EUC_2D, CEIL_2D or ATT"];
                return null;
            }

            if (cities.Length < 3 || cities.Any(c => c is not [var x, var y] || !double.IsFinite(x) || !double.IsFinite(y) || Math.Abs(x) > 1e8 || Math.Abs(y) > 1e8))
            {
                errors["cities"] = ["at least 3 cities, each [x, y] with finite coordinates of magnitude at most 1e8"];
                return null;
            }

            instance = Instance.FromCities(cities, metric);
        }

        if (instance.Count > limits.MaxCities)
        {
            errors[body.Cities is null ? "tsplib" : "cities"] = [$"at most {limits.MaxCities} cities"];
            return null;
        }

        return instance;
    }

    private static IJobActor Job(IActorProxyFactory actors, string jobId) =>
        actors.CreateActorProxy<IJobActor>(new ActorId(jobId), RoutingNames.JobActor);

    private static NotFound<ProblemDetails> NotFound(string jobId) =>
        TypedResults.NotFound(new ProblemDetails { Title = "job not found", Detail = $"job {jobId} does not exist", Status = 404 });

    private static bool ValidId(string id) => IdPattern().IsMatch(id);

    [GeneratedRegex("^[a-z0-9-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}
