using System.Text.Json;
using Dapr;
using Dapr.AspNetCore;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Balances.ReadModel;

namespace Platform.Balances.Ledger;

/// <summary>The ledger stream in: one subscription, applied to the read model by the projector.</summary>
public static class LedgerEventsApi
{
    public static IEndpointRouteBuilder MapLedgerEventsApi(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/events").WithTags("Ledger events");
        events.MapPost("/ledger", OnLedgerEvent)
            .WithTopic(Components.PubSub, Components.LedgerTopic)
            .WithMetadata(new BulkSubscribeAttribute(Components.LedgerTopic, BulkMaxMessages, BulkMaxAwaitMs));
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

    /// <summary>
    /// Bulk subscribe: the sidecar gathers up to this many events into one delivery (no more than its pub/sub
    /// component has in flight at once: <c>concurrency</c>, 10 by default on Redis)...
    /// </summary>
    public const int BulkMaxMessages = 100;

    /// <summary>...waiting at most this long after the first one, which is all it adds to the lag of a quiet stream.</summary>
    public const int BulkMaxAwaitMs = 10;

    // The body is read as raw JSON rather than bound to LedgerEvent: a payload that does not bind would otherwise
    // be a 400, which Dapr redelivers forever. The projector decides: SUCCESS, RETRY, or DROP for what can never apply.
    // A bulk delivery (daprd's envelope, type com.dapr.event.sent.bulk) is answered with a status per entry; a single
    // event (a sidecar without bulk subscribe) with one status.
    private static async Task<IResult> OnLedgerEvent(JsonElement data, Projector projector, CancellationToken ct) =>
        BulkEntries(data) is { } entries
            ? TypedResults.Ok(new BulkAnswer([.. (await projector.HandleBulkAsync(entries, ct)).Select(s => new BulkEntryStatus(s.EntryId, s.Status.Status))]))
            : TypedResults.Ok(await projector.HandleAsync(data, ct));

    /// <summary>The entries of a bulk delivery (each with its CloudEvent's data), or null when this is a single event.</summary>
    private static List<BulkEvent>? BulkEntries(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object
            || !body.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "com.dapr.event.sent.bulk"
            || !body.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        return [.. entries.EnumerateArray()
            .Where(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("entryId", out var id) && id.ValueKind == JsonValueKind.String)
            .Select(e => new BulkEvent(
                e.GetProperty("entryId").GetString()!,
                e.TryGetProperty("event", out var evt) && evt.ValueKind == JsonValueKind.Object && evt.TryGetProperty("data", out var data) ? data : evt))];
    }

    /// <summary>The answer to a bulk delivery: <c>{"statuses":[{"entryId","status"}]}</c>.</summary>
    private sealed record BulkAnswer(IReadOnlyList<BulkEntryStatus> Statuses);

    private sealed record BulkEntryStatus(string EntryId, string Status);
}
