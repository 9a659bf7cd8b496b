using System.Text.Json;
using Dapr;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Live.Views;

namespace Platform.Live.Leader;

/// <summary>The leader's streams in (its app-id is its consumer group: replicas would compete) and its snapshot out.</summary>
public static class LeaderApi
{
    public static IEndpointRouteBuilder MapLeaderApi(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/events").WithTags("Streams in");
        events.MapPost("/ledger", (JsonElement data, ViewsLeader leader, ILogger<ViewsLeader> logger) => Handle<LedgerEvent>(data, Components.LedgerTopic, leader.OnLedger, logger))
            .WithTopic(Components.PubSub, Components.LedgerTopic);
        events.MapPost("/alerts", (JsonElement data, ViewsLeader leader, ILogger<ViewsLeader> logger) => Handle<FraudSuspected>(data, Components.AlertsTopic, leader.OnAlert, logger))
            .WithTopic(Components.PubSub, Components.AlertsTopic);
        events.MapPost("/routes", (JsonElement data, ViewsLeader leader, ILogger<ViewsLeader> logger) => Handle<RouteProgress>(data, Components.RoutesTopic, leader.OnRoute, logger))
            .WithTopic(Components.PubSub, Components.RoutesTopic);
        events.MapPost("/solver-load", (JsonElement data, ViewsLeader leader, ILogger<ViewsLeader> logger) => Handle<SolverLoad>(data, Components.SolverLoadTopic, leader.OnLoad, logger))
            .WithTopic(Components.PubSub, Components.SolverLoadTopic);

        app.MapGet("/snapshot", GetSnapshot).WithTags("Views");
        return app;
    }

    // Bodies are read as raw JSON: one that does not bind would otherwise be a 400, which Dapr redelivers forever.
    private static Ok<DeliveryStatus> Handle<T>(JsonElement data, string topic, Func<T, bool> apply, ILogger logger)
    {
        try
        {
            if (data.Deserialize<T>(JsonSerializerOptions.Web) is { } e && apply(e))
            {
                return TypedResults.Ok(DeliveryStatus.Success);
            }

            Log.Malformed(logger, topic, "required fields missing");
        }
        catch (JsonException ex)
        {
            Log.Malformed(logger, topic, ex.Message);
        }

        return TypedResults.Ok(DeliveryStatus.Drop);
    }

    private static Ok<Snapshot> GetSnapshot(ViewsLeader leader) => TypedResults.Ok(leader.Snapshot());
}

/// <summary>The answer to the sidecar for one delivered event.</summary>
public sealed record DeliveryStatus(string Status)
{
    public static readonly DeliveryStatus Success = new("SUCCESS");
    public static readonly DeliveryStatus Drop = new("DROP");
}
