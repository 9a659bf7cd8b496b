using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.State;

namespace Platform.Sidecar.Actors;

/// <summary>
/// daprd's actor HTTP API (dapr/dapr <c>pkg/api/http/actors.go</c>) as the .NET SDK's <c>DaprHttpInteractor</c> uses it.
/// Method calls, reminders and timers go to the sidecar that owns the actor (forwarded with
/// <see cref="ActorService.ForwardedHeader"/>, so the receiver handles them itself); state calls are served where they
/// arrive (state writes only for an actor active or placed there, as in daprd). As in daprd, only a 200 from the app
/// is passed back as is (with a remoting error in <c>X-DaprErrorResponseHeader</c>, too); any other status becomes
/// <c>ERR_ACTOR_INVOKE_METHOD</c>.
/// </summary>
internal static class ActorHttpApi
{
    private const string Base = "/v1.0/actors/{type}/{id}";

    public static void Map(WebApplication web)
    {
        web.MapMethods(Base + "/method/{method}", ["GET", "POST", "PUT", "DELETE", "PATCH"], InvokeMethod);
        web.MapGet(Base + "/state/{key}", GetState);
        web.MapMethods(Base + "/state", ["POST", "PUT"], SaveState);
        web.MapMethods(Base + "/reminders/{name}", ["POST", "PUT"], RegisterReminder);
        web.MapGet(Base + "/reminders/{name}", GetReminder);
        web.MapDelete(Base + "/reminders/{name}", DeleteReminder);
        web.MapMethods(Base + "/timers/{name}", ["POST", "PUT"], RegisterTimer);
        web.MapDelete(Base + "/timers/{name}", DeleteTimer);
    }

    // ---- routing to the owner ----

    /// <summary>The call as it came in, for <see cref="ActorOperations"/> (which runs it here or forwards it to the actor's owner).</summary>
    private static async Task<ActorCall> CallOf(HttpContext ctx, string type, string id, byte[]? read = null) =>
        new(type, id, ctx.Request.Headers.ContainsKey(ActorService.ForwardedHeader), ctx.Request.Method,
            ctx.Request.Path.ToUriComponent() + ctx.Request.QueryString.ToUriComponent(), read ?? await HttpApi.ReadBody(ctx), RequestHeaders(ctx));

    private static ILogger Logger(HttpContext ctx) => ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("sidecar.actors");

    private static List<KeyValuePair<string, string[]>> RequestHeaders(HttpContext ctx) =>
        [.. ctx.Request.Headers.Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!))];

    private static async Task Write(HttpContext ctx, ActorResponse response)
    {
        ctx.Response.StatusCode = response.Status;
        foreach (var (name, values) in response.Headers)
        {
            if (!Invoker.IsHopByHop(name))
            {
                ctx.Response.Headers[name] = values;
            }
        }

        if (response.Body.Length > 0)
        {
            await ctx.Response.Body.WriteAsync(response.Body, ctx.RequestAborted);
        }
    }

    // ---- methods ----

    private static async Task InvokeMethod(HttpContext ctx, SidecarRuntime rt, string type, string id, string? method)
    {
        var call = await CallOf(ctx, type, id);
        await Write(ctx, await ActorOperations.InvokeAsync(rt, call, method ?? "", ctx.Request.Headers[ActorService.ReentrancyHeader].FirstOrDefault(), Logger(ctx), ctx.RequestAborted));
    }

    // ---- state ----

    private static async Task GetState(HttpContext ctx, SidecarRuntime rt, string type, string id, string key)
    {
        var item = await rt.Actors.GetStateAsync(type, id, key, ctx.RequestAborted);
        if (item is null)
        {
            ctx.Response.StatusCode = 204;
            return;
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        if (item.ExpiresAt is { } at)
        {
            ctx.Response.Headers["metadata.ttlExpireTime"] = at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }

        await ctx.Response.Body.WriteAsync(item.Data, ctx.RequestAborted);
    }

    /// <summary>Body: <c>[{"operation":"upsert"|"delete","request":{"key","value","metadata":{"ttlInSeconds"}}}]</c>.</summary>
    private static async Task<IResult> SaveState(HttpContext ctx, SidecarRuntime rt, string type, string id)
    {
        using var doc = await ReadJson(ctx);
        var operations = doc.RootElement;
        if (operations.ValueKind == JsonValueKind.Object && operations.TryGetProperty("operations", out var wrapped))
        {
            operations = wrapped;
        }

        if (operations.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be a JSON array of {\"operation\": \"upsert\"|\"delete\", \"request\": {\"key\", \"value\"}}");
        }

        var ops = new List<StateOperation>();
        var i = 0;
        foreach (var op in operations.EnumerateArray())
        {
            var at = $"[{i++}]";
            var kind = op.ValueKind == JsonValueKind.Object && op.TryGetProperty("operation", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
            if (op.ValueKind != JsonValueKind.Object || !op.TryGetProperty("request", out var request) || request.ValueKind != JsonValueKind.Object)
            {
                throw DaprError.Malformed($"{at}.request is required");
            }

            var key = request.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() is { Length: > 0 } s
                ? s
                : throw DaprError.Malformed($"{at}.request.key is required (a non-empty string)");
            ops.Add(kind?.ToLowerInvariant() switch
            {
                "upsert" => new Upsert(key, request.TryGetProperty("value", out var v) ? Encoding.UTF8.GetBytes(v.GetRawText()) : [],
                    null, Concurrency.LastWrite, StateService.ParseTtl(Metadata(request))),
                "delete" => new Delete(key, null, Concurrency.LastWrite),
                _ => throw DaprError.Malformed($"{at}.operation '{kind}' is not upsert or delete"),
            });
        }

        await rt.Actors.ApplyStateAsync(type, id, ops, ctx.RequestAborted);
        return Results.NoContent();
    }

    private static Dictionary<string, string>? Metadata(JsonElement request) =>
        request.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object
            ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText())
            : null;

    // ---- reminders and timers ----

    private static async Task RegisterReminder(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        await Write(ctx, await ActorOperations.RegisterReminderAsync(rt, await CallOf(ctx, type, id), name, Logger(ctx), ctx.RequestAborted));

    private static async Task GetReminder(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        await Write(ctx, await ActorOperations.GetReminderAsync(rt, await CallOf(ctx, type, id), name, Logger(ctx), ctx.RequestAborted));

    private static async Task DeleteReminder(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        await Write(ctx, await ActorOperations.DeleteReminderAsync(rt, await CallOf(ctx, type, id), name, Logger(ctx), ctx.RequestAborted));

    private static async Task RegisterTimer(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        await Write(ctx, await ActorOperations.RegisterTimerAsync(rt, await CallOf(ctx, type, id), name, Logger(ctx), ctx.RequestAborted));

    private static async Task DeleteTimer(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        await Write(ctx, await ActorOperations.DeleteTimerAsync(rt, await CallOf(ctx, type, id), name, Logger(ctx), ctx.RequestAborted));

    // ---- helpers ----

    private static async Task<JsonDocument> ReadJson(HttpContext ctx)
    {
        var body = await HttpApi.ReadBody(ctx);
        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw DaprError.Malformed($"the body is not valid JSON: {e.Message}");
        }
    }
}
