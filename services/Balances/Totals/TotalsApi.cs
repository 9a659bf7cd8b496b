using Dapr.Client;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Balances.ReadModel;

namespace Platform.Balances.Totals;

/// <summary>The whole read model in numbers.</summary>
public sealed record Totals(long Accounts, decimal TotalBalance, long EventsApplied, long EventsIgnored, int Generation, int? Rebuilding);

/// <summary>
/// Totals are the sum of a few shard documents, each written in the same transaction as the accounts hashed to
/// it. Why not one totals document: every event of every account would contend on its ETag, and competing
/// replicas would spend their time retrying. Why not summing the accounts at query time: that is a read of every
/// account per query. The shards keep totals exactly consistent with the accounts at the price of 16 reads.
/// </summary>
public static class TotalsApi
{
    public static IEndpointRouteBuilder MapTotalsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/totals").WithTags("Totals").MapGet("", GetTotals);
        return app;
    }

    private static async Task<Ok<Totals>> GetTotals(DaprClient dapr, CancellationToken ct)
    {
        var pointer = await ModelPointer.ReadAsync(dapr, ct);
        var keys = Enumerable.Range(0, Keys.TotalsShards).Select(s => Keys.Totals(pointer.Generation, s)).ToList();
        var shards = (await dapr.GetBulkStateAsync<TotalsShard?>(Components.StateStore, keys, parallelism: null, cancellationToken: ct))
            .Select(item => item.Value)
            .OfType<TotalsShard>()
            .ToList();
        return TypedResults.Ok(new Totals(
            shards.Sum(s => s.Accounts),
            Money.Of(shards.Sum(s => s.Balance)),
            shards.Sum(s => s.EventsApplied),
            shards.Sum(s => s.EventsIgnored),
            pointer.Generation,
            pointer.Rebuilding));
    }
}
