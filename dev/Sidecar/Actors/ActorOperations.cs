using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Actors;

/// <summary>
/// An actor API call as it reached this sidecar: its actor, whether a peer sidecar forwarded it here (then it runs
/// here whatever placement says), and the HTTP form it is forwarded in when another sidecar owns the actor.
/// </summary>
internal sealed record ActorCall(string Type, string Id, bool Forwarded, string Verb, string PathAndQuery, byte[] Body,
    IReadOnlyList<KeyValuePair<string, string[]>> Headers)
{
    /// <summary>The HTTP form of a call that came in over gRPC, as daprd's own HTTP API would have received it.</summary>
    public static ActorCall Of(string type, string id, string verb, string relativePath, byte[] body, IReadOnlyList<KeyValuePair<string, string[]>> headers) =>
        new(type, id, false, verb, $"/v1.0/actors/{Uri.EscapeDataString(type)}/{Uri.EscapeDataString(id)}/{relativePath}", body, headers);
}

/// <summary>
/// The actor API's operations that run on the sidecar owning the actor (method calls, reminders, timers), one
/// implementation behind the HTTP adapter (<see cref="ActorHttpApi"/>) and the gRPC one (<c>ActorGrpcApi.cs</c>), as
/// daprd keeps them in <c>pkg/api/universal/actors.go</c>. A call is run here when this sidecar owns the actor (or a
/// peer forwarded it), else forwarded to the owner in its HTTP form, where it comes back in through this class.
/// State calls need no routing: they are served where they arrive (<see cref="ActorService"/>).
/// </summary>
internal static class ActorOperations
{
    /// <summary>Runs <paramref name="local"/> here when this sidecar owns the actor (or the call was forwarded to it), else forwards the call.</summary>
    public static async Task<ActorResponse> RouteAsync(SidecarRuntime rt, ActorCall call, Func<byte[], Task<ActorResponse>> local, ILogger logger, CancellationToken ct)
    {
        if (call.Forwarded)
        {
            return await local(call.Body);
        }

        var actors = rt.Actors;
        for (var attempt = 0; ; attempt++)
        {
            var owner = await actors.OwnerAsync(call.Type, call.Id, fresh: attempt > 0, ct) ?? throw ActorErrors.NoAddress(call.Type, call.Id);
            if (actors.IsSelf(owner))
            {
                return await local(call.Body);
            }

            try
            {
                return await actors.ForwardAsync(owner, call.Verb, call.PathAndQuery, call.Body, call.Headers, ct);
            }
            catch (HttpRequestException e) when (attempt < 3 && e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
            {
                // The owner went away without unregistering: look again (fresh), the actor is placed on a live host.
                logger.LogWarning("Owner {Instance} of actor {Type}/{Id} unreachable, placing again: {Error}", owner.InstanceId, call.Type, call.Id, e.Message);
            }
            catch (HttpRequestException e)
            {
                throw ActorErrors.InvokeMethod($"forwarding to the host of actor {call.Type}/{call.Id} failed: {e.Message}");
            }
        }
    }

    // ---- methods ----

    /// <summary>
    /// A method call, under the Resiliency policy for its actor type when one is set (<c>targets.actors</c>), applied
    /// by the calling sidecar as daprd does: a timeout per attempt, retries, and a circuit breaker per type. As in
    /// daprd, only a 200 from the app is passed back as is; any other status becomes <c>ERR_ACTOR_INVOKE_METHOD</c>.
    /// </summary>
    public static async Task<ActorResponse> InvokeAsync(SidecarRuntime rt, ActorCall call, string method, string? reentrancyId, ILogger logger, CancellationToken ct)
    {
        if (call.Forwarded || !rt.Components.Resources.Actors.TryGetValue(call.Type, out var policy))
        {
            return await InvokeOnceAsync(rt, call, method, reentrancyId, logger, ct);
        }

        var breaker = policy.Breaker is { } b ? rt.ActorBreakers.GetOrAdd(call.Type, _ => new CircuitBreaker(b)) : null;
        for (var attempt = 1; ; attempt++)
        {
            if (breaker is not null && !breaker.TryEnter())
            {
                throw ActorErrors.InvokeMethod($"circuit breaker is open for actor type {call.Type}");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (policy.Timeout is { } t)
            {
                timeout.CancelAfter(t);
            }

            DaprError failure;
            try
            {
                var response = await InvokeOnceAsync(rt, call, method, reentrancyId, logger, timeout.Token);
                breaker?.Record(true);
                return response;
            }
            catch (DaprError e)
            {
                failure = e;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                failure = ActorErrors.InvokeMethod($"actor {call.Type}/{call.Id} method {method}: timeout after {policy.Timeout}");
            }

            breaker?.Record(false);
            if (policy.Retry is not { } retry || (retry.MaxRetries >= 0 && attempt > retry.MaxRetries))
            {
                throw failure;
            }

            await Task.Delay(retry.Delay(attempt), ct);
        }
    }

    private static Task<ActorResponse> InvokeOnceAsync(SidecarRuntime rt, ActorCall call, string method, string? reentrancyId, ILogger logger, CancellationToken ct) =>
        RouteAsync(rt, call, async body =>
        {
            var response = await rt.Actors.InvokeLocalAsync(call.Type, call.Id, method, body, call.Headers, reentrancyId, ct);
            if (response.Status == 404)
            {
                throw ActorErrors.InvokeMethod($"actor method not found: actors/{call.Type}/{call.Id}/method/{method}");
            }

            return response.Status == 200
                ? response
                : throw ActorErrors.InvokeMethod($"error from actor service: ({response.Status}) {Encoding.UTF8.GetString(response.Body)}");
        }, logger, ct);

    // ---- reminders ----

    /// <summary>Body: <c>{"dueTime","period","data","ttl"}</c>; kept verbatim and echoed to the app when it fires.</summary>
    public static Task<ActorResponse> RegisterReminderAsync(SidecarRuntime rt, ActorCall call, string name, ILogger logger, CancellationToken ct)
    {
        rt.Actors.RequireReminderHost(call.Type);
        return RouteAsync(rt, call, async body =>
        {
            using var doc = Parse(body);
            var r = doc.RootElement;
            JsonElement? data = r.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d.Clone() : null;
            await rt.Actors.RegisterReminderAsync(call.Type, call.Id, name, Str(r, "dueTime") ?? "", Str(r, "period") ?? "", Str(r, "ttl"), data, ct);
            return NoContent;
        }, logger, ct);
    }

    /// <summary>The reminder as daprd's HTTP API answers it: <c>{"actorID","actorType","dueTime","period","data","ttl"}</c>.</summary>
    public static Task<ActorResponse> GetReminderAsync(SidecarRuntime rt, ActorCall call, string name, ILogger logger, CancellationToken ct)
    {
        rt.Actors.RequireReminderHost(call.Type);
        return RouteAsync(rt, call, async _ =>
        {
            var r = await rt.Actors.GetReminderAsync(call.Type, call.Id, name, ct) ?? throw ActorErrors.ReminderNotFound(name);
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("actorID", call.Id);
                w.WriteString("actorType", call.Type);
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
            }

            return new ActorResponse(200, [new("Content-Type", ["application/json"])], buffer.ToArray());
        }, logger, ct);
    }

    public static Task<ActorResponse> DeleteReminderAsync(SidecarRuntime rt, ActorCall call, string name, ILogger logger, CancellationToken ct)
    {
        rt.Actors.RequireReminderHost(call.Type);
        return RouteAsync(rt, call, async _ =>
        {
            await rt.Actors.DeleteReminderAsync(call.Type, call.Id, name, ct);
            return NoContent;
        }, logger, ct);
    }

    // ---- timers ----

    /// <summary>Body: <c>{"dueTime","period","callback","data","ttl"}</c>.</summary>
    public static Task<ActorResponse> RegisterTimerAsync(SidecarRuntime rt, ActorCall call, string name, ILogger logger, CancellationToken ct)
    {
        rt.Actors.RequireTimerHost(call.Type, call.Id);
        return RouteAsync(rt, call, body =>
        {
            using var doc = Parse(body);
            var r = doc.RootElement;
            var data = r.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d.GetRawText() : null;
            rt.Actors.RegisterTimer(call.Type, call.Id, name, Str(r, "callback") ?? "", Str(r, "dueTime") ?? "", Str(r, "period") ?? "", Str(r, "ttl"), data);
            return Task.FromResult(NoContent);
        }, logger, ct);
    }

    public static Task<ActorResponse> DeleteTimerAsync(SidecarRuntime rt, ActorCall call, string name, ILogger logger, CancellationToken ct) =>
        RouteAsync(rt, call, _ =>
        {
            rt.Actors.DeleteTimer(call.Type, call.Id, name);
            return Task.FromResult(NoContent);
        }, logger, ct);

    // ---- helpers ----

    private static readonly ActorResponse NoContent = new(204, [], []);

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
}
