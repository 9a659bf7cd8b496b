using Microsoft.Extensions.Options;

namespace Platform.Solver.Load;

public static class LoadApi
{
    public static IEndpointRouteBuilder MapLoadApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/load", (SolverLoad load, IOptions<SolverOptions> options) => TypedResults.Ok(new
        {
            replicaId = options.Value.ReplicaId,
            inFlight = load.InFlight,
            maxInFlight = load.MaxInFlight,
            searches = load.Searches,
            moves = load.MovesMade,
        }));
        return app;
    }
}
