using System.Text.Json;
using Dapr;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Balances.ReadModel;

namespace Platform.Balances.Ledger;

/// <summary>The ledger stream in: one subscription, applied to the read model by the projector.</summary>
public static class LedgerEventsApi
{
    public static IEndpointRouteBuilder MapLedgerEventsApi(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/events").WithTags("Ledger events");
        events.MapPost("/ledger", OnLedgerEvent).WithTopic(Components.PubSub, Components.LedgerTopic);
        return app;
    }

    /// <summary>
    /// A delivery that is not even JSON (a CloudEvent a broken publisher wrote by hand) can never apply: answer DROP,
    /// as for any other malformed event. Left alone it would be a 500, which Dapr redelivers for ever.
    /// </summary>
    public static IApplicationBuilder UseUnreadableDeliveriesDropped(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (e is JsonException or BadHttpRequestException && context.Request.Path.StartsWithSegments("/events") && !context.Response.HasStarted)
        {
            Log.Malformed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LedgerEventsApi)), $"(unreadable: {e.Message})");
            context.Response.StatusCode = StatusCodes.Status200OK;
            await context.Response.WriteAsJsonAsync(DeliveryStatus.Drop);
        }
    });

    // The body is read as raw JSON rather than bound to LedgerEvent: a payload that does not bind would otherwise
    // be a 400, which Dapr redelivers forever. The projector decides: SUCCESS, RETRY, or DROP for what can never apply.
    private static async Task<Ok<DeliveryStatus>> OnLedgerEvent(JsonElement data, Projector projector, CancellationToken ct) =>
        TypedResults.Ok(await projector.HandleAsync(data, ct));
}
