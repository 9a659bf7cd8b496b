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

    /// <summary>Runs <paramref name="local"/> here when this sidecar owns the actor (or the call was forwarded to it), else forwards the call.</summary>
    private static async Task Routed(HttpContext ctx, SidecarRuntime rt, string type, string id, Func<byte[], Task> local, Action? check = null, byte[]? read = null, CancellationToken? token = null)
    {
        var actors = rt.Actors;
        var body = read ?? await HttpApi.ReadBody(ctx);
        check?.Invoke();
        if (ctx.Request.Headers.ContainsKey(ActorService.ForwardedHeader))
        {
            await local(body);
            return;
        }

        var ct = token ?? ctx.RequestAborted;
        for (var attempt = 0; ; attempt++)
        {
            var owner = await actors.OwnerAsync(type, id, fresh: attempt > 0, ct) ?? throw ActorErrors.NoAddress(type, id);
            if (actors.IsSelf(owner))
            {
                await local(body);
                return;
            }

            try
            {
                var response = await actors.ForwardAsync(owner, ctx.Request.Method, ctx.Request.Path.ToUriComponent() + ctx.Request.QueryString.ToUriComponent(),
                    body, RequestHeaders(ctx), ct);
                await Write(ctx, response);
                return;
            }
            catch (HttpRequestException e) when (attempt < 3 && e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
            {
                // The owner went away without unregistering: look again (fresh), the actor is placed on a live host.
                ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("sidecar.actors")
                    .LogWarning("Owner {Instance} of actor {Type}/{Id} unreachable, placing again: {Error}", owner.InstanceId, type, id, e.Message);
            }
            catch (HttpRequestException e)
            {
                throw ActorErrors.InvokeMethod($"forwarding to the host of actor {type}/{id} failed: {e.Message}");
            }
        }
    }

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

    /// <summary>
    /// A method call, under the Resiliency policy for its actor type when one is set (<c>targets.actors</c>), applied
    /// by the calling sidecar as daprd does: a timeout per attempt, retries, and a circuit breaker per type.
    /// </summary>
    private static async Task InvokeMethod(HttpContext ctx, SidecarRuntime rt, string type, string id, string? method)
    {
        if (ctx.Request.Headers.ContainsKey(ActorService.ForwardedHeader) || !rt.Components.Resources.Actors.TryGetValue(type, out var policy))
        {
            await InvokeMethodOnce(ctx, rt, type, id, method, null, ctx.RequestAborted);
            return;
        }

        var body = await HttpApi.ReadBody(ctx);
        var breaker = policy.Breaker is { } b ? rt.ActorBreakers.GetOrAdd(type, _ => new CircuitBreaker(b)) : null;
        for (var attempt = 1; ; attempt++)
        {
            if (breaker is not null && !breaker.TryEnter())
            {
                throw ActorErrors.InvokeMethod($"circuit breaker is open for actor type {type}");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            if (policy.Timeout is { } t)
            {
                timeout.CancelAfter(t);
            }

            DaprError failure;
            try
            {
                await InvokeMethodOnce(ctx, rt, type, id, method, body, timeout.Token);
                breaker?.Record(true);
                return;
            }
            catch (DaprError e) when (!ctx.Response.HasStarted)
            {
                failure = e;
            }
            catch (OperationCanceledException) when (!ctx.RequestAborted.IsCancellationRequested && !ctx.Response.HasStarted)
            {
                failure = ActorErrors.InvokeMethod($"actor {type}/{id} method {method}: timeout after {policy.Timeout}");
            }

            breaker?.Record(false);
            if (policy.Retry is not { } retry || (retry.MaxRetries >= 0 && attempt > retry.MaxRetries))
            {
                throw failure;
            }

            await Task.Delay(retry.Delay(attempt), ctx.RequestAborted);
        }
    }

    private static Task InvokeMethodOnce(HttpContext ctx, SidecarRuntime rt, string type, string id, string? method, byte[]? body, CancellationToken ct) =>
        Routed(ctx, rt, type, id, async body =>
        {
            var response = await rt.Actors.InvokeLocalAsync(type, id, method ?? "", body, RequestHeaders(ctx),
                ctx.Request.Headers[ActorService.ReentrancyHeader].FirstOrDefault(), ct);
            if (response.Status == 404)
            {
                throw ActorErrors.InvokeMethod($"actor method not found: actors/{type}/{id}/method/{method}");
            }

            if (response.Status != 200)
            {
                throw ActorErrors.InvokeMethod($"error from actor service: ({response.Status}) {Encoding.UTF8.GetString(response.Body)}");
            }

            await Write(ctx, response);
        }, read: body, token: ct);

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

    // ---- reminders ----

    /// <summary>Body: <c>{"dueTime","period","data","ttl"}</c>; kept verbatim and echoed to the app when it fires.</summary>
    private static Task RegisterReminder(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        Routed(ctx, rt, type, id, async body =>
        {
            using var doc = Parse(body);
            var r = doc.RootElement;
            JsonElement? data = r.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d.Clone() : null;
            await rt.Actors.RegisterReminderAsync(type, id, name, Str(r, "dueTime") ?? "", Str(r, "period") ?? "", Str(r, "ttl"), data, ctx.RequestAborted);
            ctx.Response.StatusCode = 204;
        }, () => rt.Actors.RequireReminderHost(type));

    private static Task GetReminder(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        Routed(ctx, rt, type, id, async _ =>
        {
            var r = await rt.Actors.GetReminderAsync(type, id, name, ctx.RequestAborted) ?? throw ActorErrors.ReminderNotFound(name);
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/json";
            await using var w = new Utf8JsonWriter(ctx.Response.Body);
            w.WriteStartObject();
            w.WriteString("actorID", id);
            w.WriteString("actorType", type);
            w.WriteString("dueTime", r.DueTime);
            w.WriteString("period", r.Period);
            if (r.Data is { } data)
            {
                w.WritePropertyName("data");
                data.WriteTo(w);
            }

            if (r.Ttl is { } ttl)
            {
                w.WriteString("ttl", ttl);
            }

            w.WriteEndObject();
        }, () => rt.Actors.RequireReminderHost(type));

    private static Task DeleteReminder(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        Routed(ctx, rt, type, id, async _ =>
        {
            await rt.Actors.DeleteReminderAsync(type, id, name, ctx.RequestAborted);
            ctx.Response.StatusCode = 204;
        }, () => rt.Actors.RequireReminderHost(type));

    // ---- timers ----

    /// <summary>Body: <c>{"dueTime","period","callback","data","ttl"}</c>.</summary>
    private static Task RegisterTimer(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        Routed(ctx, rt, type, id, body =>
        {
            using var doc = Parse(body);
            var r = doc.RootElement;
            var data = r.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d.GetRawText() : null;
            rt.Actors.RegisterTimer(type, id, name, Str(r, "callback") ?? "", Str(r, "dueTime") ?? "", Str(r, "period") ?? "", Str(r, "ttl"), data);
            ctx.Response.StatusCode = 204;
            return Task.CompletedTask;
        }, () => rt.Actors.RequireTimerHost(type, id));

    private static Task DeleteTimer(HttpContext ctx, SidecarRuntime rt, string type, string id, string name) =>
        Routed(ctx, rt, type, id, _ =>
        {
            rt.Actors.DeleteTimer(type, id, name);
            ctx.Response.StatusCode = 204;
            return Task.CompletedTask;
        });

    // ---- helpers ----

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonDocument Parse(byte[] body)
    {
        try
        {
            var doc = JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw DaprError.Malformed("the body must be a JSON object");
            }

            return doc;
        }
        catch (JsonException e)
        {
            throw DaprError.Malformed($"the body is not valid JSON: {e.Message}");
        }
    }

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
