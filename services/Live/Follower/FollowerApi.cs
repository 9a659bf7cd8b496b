using System.Text.Json;
using Dapr;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Live.Leader;
using Platform.Live.Views;

namespace Platform.Live.Follower;

/// <summary>The deltas in (a broadcast subscription: every follower gets every one) and the users' streams out.</summary>
public static class FollowerApi
{
    public static IEndpointRouteBuilder MapFollowerApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/views", OnDelta).WithTopic(Components.ViewsPubSub, Components.ViewsTopic).WithTags("Streams in");
        app.MapGet("/events", Stream).WithTags("Streams out");
        app.MapGet("/mirror", (Mirror mirror) => TypedResults.Ok(mirror.Status())).WithTags("Views");
        return app;
    }

    private static Ok<DeliveryStatus> OnDelta(JsonElement data, Mirror mirror, ILogger<Mirror> logger)
    {
        try
        {
            if (data.Deserialize<Delta>(JsonSerializerOptions.Web) is { Epoch.Length: > 0, Seq: > 0 } delta)
            {
                mirror.OnDelta(delta);
                return TypedResults.Ok(DeliveryStatus.Success);
            }
        }
        catch (JsonException e)
        {
            Log.Malformed(logger, Components.ViewsTopic, e.Message);
        }

        return TypedResults.Ok(DeliveryStatus.Drop);
    }

    /// <summary>
    /// <c>GET /events?user=alice</c>: Server-Sent Events with that user's accounts, alerts and jobs plus the shared
    /// panels. First a <c>snapshot</c> event, then <c>delta</c> events; every event has an id (epoch.sequence), so
    /// a reconnecting browser (<c>Last-Event-ID</c>) gets only what it missed, from this follower or any other.
    /// </summary>
    private static async Task<IResult> Stream(HttpContext context, string? user, Mirror mirror, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(user))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "user is required",
                detail: "GET /events?user=<name>: the stream shows that user's accounts, alerts and jobs.", extensions: new Dictionary<string, object?> { ["code"] = "user-required" });
        }

        var lastEventId = context.Request.Headers["Last-Event-ID"].FirstOrDefault() ?? context.Request.Query["lastEventId"].FirstOrDefault();
        if (mirror.Connect(user, lastEventId) is not { } client)
        {
            context.Response.Headers.RetryAfter = "1";
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "not synchronised yet",
                detail: "This follower has no snapshot from the leader yet; retry shortly.", extensions: new Dictionary<string, object?> { ["code"] = "not-ready" });
        }

        try
        {
            var response = context.Response;
            response.Headers.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
            await response.Body.WriteAsync("retry: 1000\n\n"u8.ToArray(), ct);
            await response.Body.FlushAsync(ct);
            var frames = client.Frames;
            // Heartbeats come through the queue too (StreamHub.Heartbeat), so this loop only waits for frames.
            while (await frames.WaitToReadAsync(ct))
            {
                while (frames.TryRead(out var frame))
                {
                    await response.Body.WriteAsync(frame, ct);
                }

                await response.Body.FlushAsync(ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // the client went away
        }
        finally
        {
            client.Disconnect();
        }

        return TypedResults.Empty;
    }
}
