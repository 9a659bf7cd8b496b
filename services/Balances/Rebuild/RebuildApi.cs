using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Balances.Ledger;

namespace Platform.Balances.Rebuild;

/// <summary>Rebuilding the read model from the ledger, on demand.</summary>
public static class RebuildApi
{
    public static IEndpointRouteBuilder MapRebuildApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/rebuild").WithTags("Rebuild").MapPost("", Rebuild);
        return app;
    }

    // The rebuild runs to the end even if the caller gives up waiting (only shutdown stops it): a rebuild cut off
    // half-way would leave the pointer saying "rebuilding" until it is considered abandoned.
    private static async Task<Results<Ok<RebuildResult>, ProblemHttpResult>> Rebuild(Rebuilder rebuilder, IHostApplicationLifetime lifetime)
    {
        try
        {
            return await rebuilder.RunAsync(lifetime.ApplicationStopping) is { } result
                ? TypedResults.Ok(result)
                : TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "A rebuild is already running",
                    detail: "Wait for it to finish (GET /totals shows 'rebuilding' until it has switched over).");
        }
        catch (LedgerUnavailableException e)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The ledger could not be reached", detail: e.Message);
        }
    }
}
