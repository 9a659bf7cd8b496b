using Dapr;
using Dapr.Client;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Platform.Orders;

/// <summary>What arrives on the <c>orders</c> topic, and what <c>GET /orders/{id}</c> answers.</summary>
public sealed record OrdersItem(string Id, string Text, DateTimeOffset ReceivedAt);

/// <summary>The event as published: a tolerant reader, every field optional until validated.</summary>
public sealed record OrdersEvent(string? Id, string? Text);

public static class OrdersApi
{
    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder routes)
    {
        var items = routes.MapGroup("/orders").WithTags("Orders");
        items.MapGet("/{id}", GetAsync);

        // The subscription sits beside the endpoint that reads what it stores.
        routes.MapPost("/events/orders", OnEventAsync).WithTopic(OrdersNames.PubSub, OrdersNames.Topic);
        return routes;
    }

    /// <summary>The item last received for <paramref name="id"/>, read through the sidecar's state store.</summary>
    public static async Task<Results<Ok<OrdersItem>, NotFound<ProblemDetails>>> GetAsync(string id, DaprClient dapr, CancellationToken ct)
    {
        var item = await dapr.GetStateAsync<OrdersItem?>(OrdersNames.StateStore, Key(id), cancellationToken: ct);
        return item is null
            ? TypedResults.NotFound(new ProblemDetails { Title = $"no item '{id}'", Status = StatusCodes.Status404NotFound, Extensions = { ["code"] = "not-found" } })
            : TypedResults.Ok(item);
    }

    /// <summary>
    /// Stores each event by id. An event that can never be stored (no id) is dropped rather than refused:
    /// a 400 would make the sidecar redeliver it forever.
    /// </summary>
    public static async Task<Ok<TopicResponse>> OnEventAsync(OrdersEvent data, DaprClient dapr, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(data.Id))
        {
            return TypedResults.Ok(new TopicResponse("DROP"));
        }

        await dapr.SaveStateAsync(OrdersNames.StateStore, Key(data.Id), new OrdersItem(data.Id, data.Text ?? "", DateTimeOffset.UtcNow), cancellationToken: ct);
        return TypedResults.Ok(new TopicResponse("SUCCESS"));
    }

    private static string Key(string id) => $"orders-{id}";
}

/// <summary>Dapr's delivery status: SUCCESS, RETRY or DROP.</summary>
public sealed record TopicResponse(string Status);
