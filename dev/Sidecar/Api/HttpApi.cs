using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Platform.Sidecar.Invocation;
using Platform.Sidecar.State;
using BulkPublishEntry = Platform.Sidecar.PubSub.BulkPublishEntry;

namespace Platform.Sidecar.Api;

/// <summary>
/// daprd's HTTP API (dapr/dapr <c>pkg/api/http</c>): health, metadata, state, publish, secrets, invocation and
/// shutdown, with daprd's status codes and <c>{"errorCode","message"}</c> error bodies.
/// </summary>
internal static partial class HttpApi
{
    public static void Map(WebApplication web)
    {
        web.Use(Normalize);
        web.Use(ApiToken);
        web.Use(Errors);

        web.MapGet("/v1.0/healthz", Healthz);
        web.MapGet("/v1.0/healthz/outbound", () => Results.NoContent());
        web.MapGet("/v1.0/metadata", Metadata.GetHttp);
        web.MapPut("/v1.0/metadata/{key}", Metadata.PutHttp);
        web.MapPost("/v1.0/shutdown", (SidecarRuntime rt) =>
        {
            rt.RequestShutdown();
            return Results.NoContent();
        });

        web.MapGet("/v1.0/state/{store}/{key}", GetState);
        web.MapMethods("/v1.0/state/{store}", ["POST", "PUT"], SaveState);
        web.MapDelete("/v1.0/state/{store}/{key}", DeleteState);
        web.MapMethods("/v1.0/state/{store}/bulk", ["POST", "PUT"], BulkGetState);
        web.MapMethods("/v1.0/state/{store}/transaction", ["POST", "PUT"], Transaction);

        web.MapMethods("/v1.0/publish/{pubsub}/{**topic}", ["POST", "PUT"], Publish);
        web.MapMethods("/v1.0-alpha1/publish/bulk/{pubsub}/{**topic}", ["POST", "PUT"], BulkPublish);
        web.MapMethods("/v1.0/publish/bulk/{pubsub}/{**topic}", ["POST", "PUT"], BulkPublish);

        web.MapGet("/v1.0/secrets/{store}/bulk", BulkSecrets);
        web.MapGet("/v1.0/secrets/{store}/{key}", Secret);

        web.Map("/v1.0/invoke/{appId}/method/{**method}", Invoke);
        Actors.ActorHttpApi.Map(web);
        MapLocks(web);
        MapConfiguration(web);
        MapBindings(web);
        web.MapFallback(Fallback);
    }

    // Each building block's folder maps its own routes in its part of this class.
    static partial void MapLocks(IEndpointRouteBuilder web);

    static partial void MapConfiguration(IEndpointRouteBuilder web);

    static partial void MapBindings(IEndpointRouteBuilder web);

    /// <summary>daprd cleans paths (the actor SDK sends <c>//v1.0/...</c>) and routes any request with a <c>dapr-app-id</c> header to invocation.</summary>
    private static Task Normalize(HttpContext ctx, RequestDelegate next)
    {
        var path = ctx.Request.Path.Value;
        if (path is not null && path.Contains("//", StringComparison.Ordinal))
        {
            while (path.Contains("//", StringComparison.Ordinal))
            {
                path = path.Replace("//", "/", StringComparison.Ordinal);
            }

            ctx.Request.Path = path;
        }

        return next(ctx);
    }

    /// <summary>
    /// With an API token configured, every call needs it in <c>dapr-api-token</c> except the two health probes
    /// (daprd's middlewares.go). The one other way in is a peer sidecar delivering a forwarded invocation to this
    /// sidecar's own app, proven with the registry secret: the call daprd's internal gRPC API takes over mTLS,
    /// where the caller cannot know this app's token. The secret opens no other API.
    /// </summary>
    private static Task ApiToken(HttpContext ctx, RequestDelegate next)
    {
        var rt = ctx.RequestServices.GetRequiredService<SidecarRuntime>();
        if (rt.Options.ApiToken is not { } token
            || ctx.Request.Path.Equals("/v1.0/healthz", StringComparison.Ordinal) || ctx.Request.Path.Equals("/v1.0/healthz/outbound", StringComparison.Ordinal)
            || IsForwardedToOwnApp(ctx, rt)
            || Tokens.Match(ctx.Request.Headers["dapr-api-token"].FirstOrDefault(), token))
        {
            return next(ctx);
        }

        ctx.Response.StatusCode = 401;
        ctx.Response.ContentType = "text/plain";
        return ctx.Response.WriteAsync("invalid api token");
    }

    private static async Task Errors(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (DaprError e) when (!ctx.Response.HasStarted)
        {
            await WriteError(ctx, e);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException && !ctx.Response.HasStarted)
        {
            await WriteError(ctx, DaprError.Malformed($"failed to parse the request: {e.Message}"));
        }
        catch (BadHttpRequestException e) when (!ctx.Response.HasStarted)
        {
            await WriteError(ctx, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? BodyTooLarge()
                : new DaprError("ERR_BODY_READ", e.Message, e.StatusCode, Grpc.Core.StatusCode.InvalidArgument));
        }
    }

    internal static Task WriteError(HttpContext ctx, DaprError e)
    {
        ctx.Response.StatusCode = e.HttpStatus;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(e.Body));
    }

    private static IResult Healthz(HttpContext ctx, SidecarRuntime rt)
    {
        if (ctx.Request.Query["appid"] is { Count: > 0 } q && q[0] != rt.AppId)
        {
            return Results.Json(new ErrorBody("ERR_HEALTH_APPID_NOT_MATCH", "dapr app-id does not match"), statusCode: 500);
        }

        return rt.IsReady ? Results.NoContent() : Results.Json(DaprError.NotReady().Body, statusCode: 500);
    }

    private static Task Fallback(HttpContext ctx)
    {
        if (ctx.Request.Headers.TryGetValue("dapr-app-id", out var target) && target.Count > 0)
        {
            var rt = ctx.RequestServices.GetRequiredService<SidecarRuntime>();
            return InvokeCore(ctx, rt, target[0]!, viaHeader: true);
        }

        return WriteError(ctx, new DaprError("ERR_API_NOT_FOUND", $"{ctx.Request.Method} {ctx.Request.Path} is not an API of this sidecar", 404, Grpc.Core.StatusCode.Unimplemented));
    }

    // ---- state ----

    private static async Task GetState(HttpContext ctx, SidecarRuntime rt, string store, string key)
    {
        var item = await rt.State.GetAsync(store, key, ctx.RequestAborted);
        if (item is null)
        {
            ctx.Response.StatusCode = 204;
            return;
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.Headers.ETag = item.ETag;
        ctx.Response.ContentType = "application/json";
        if (item.ExpiresAt is { } at)
        {
            ctx.Response.Headers["metadata.ttlExpireTime"] = at.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        }

        await ctx.Response.Body.WriteAsync(item.Data, ctx.RequestAborted);
    }

    private static async Task<IResult> SaveState(HttpContext ctx, SidecarRuntime rt, string store)
    {
        rt.Components.StateStore(store);
        using var doc = await ReadJson(ctx);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be a JSON array of {key, value, etag?, options?, metadata?}");
        }

        // daprd's onPostState: the URL's metadata.* go into every item's metadata, over the item's own.
        var common = QueryMetadata(ctx);
        var ops = new List<StateOperation>();
        var i = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            ops.Add(ReadUpsert(item, $"[{i++}]", common));
        }

        await rt.State.ApplyAsync(store, ops, "ERR_STATE_SAVE", ctx.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteState(HttpContext ctx, SidecarRuntime rt, string store, string key)
    {
        var etag = ctx.Request.Headers.IfMatch.FirstOrDefault();
        var concurrency = StateService.ParseConcurrency(ctx.Request.Query["concurrency"].FirstOrDefault());
        await rt.State.ApplyAsync(store, [new Delete(key, string.IsNullOrEmpty(etag) ? null : etag.Trim('"'), concurrency)], "ERR_STATE_DELETE", ctx.RequestAborted);
        return Results.NoContent();
    }

    private static async Task BulkGetState(HttpContext ctx, SidecarRuntime rt, string store)
    {
        rt.Components.StateStore(store);
        using var doc = await ReadJson(ctx);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be {\"keys\": [..]}");
        }

        var names = keys.EnumerateArray().Select(k => k.GetString() ?? throw DaprError.Malformed("keys must be strings")).ToList();
        var results = await Task.WhenAll(names.Select(async k =>
        {
            try
            {
                return (k, Item: await rt.State.GetAsync(store, k, ctx.RequestAborted), Error: (string?)null);
            }
            catch (DaprError e)
            {
                return (k, Item: (StateItem?)null, Error: e.Message);
            }
        }));

        ctx.Response.ContentType = "application/json";
        await using var w = new Utf8JsonWriter(ctx.Response.Body);
        w.WriteStartArray();
        foreach (var (k, item, error) in results)
        {
            w.WriteStartObject();
            w.WriteString("key", k);
            if (item is not null)
            {
                w.WritePropertyName("data");
                WriteValue(w, item.Data.Span);
                w.WriteString("etag", item.ETag);
            }

            if (error is not null)
            {
                w.WriteString("error", error);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static async Task<IResult> Transaction(HttpContext ctx, SidecarRuntime rt, string store)
    {
        rt.Components.StateStore(store);
        using var doc = await ReadJson(ctx);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("operations", out var operations) || operations.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be {\"operations\": [{\"operation\": \"upsert\"|\"delete\", \"request\": {..}}]}");
        }

        var ops = new List<StateOperation>();
        var i = 0;
        foreach (var op in operations.EnumerateArray())
        {
            var at = $"operations[{i++}]";
            var kind = op.TryGetProperty("operation", out var o) ? o.GetString() : null;
            if (!op.TryGetProperty("request", out var request) || request.ValueKind != JsonValueKind.Object)
            {
                throw DaprError.Malformed($"{at}.request is required");
            }

            ops.Add(kind switch
            {
                "upsert" => ReadUpsert(request, at + ".request"),
                "delete" => new Delete(Key(request, at + ".request"), Etag(request), Concurrency(request)),
                _ => throw DaprError.Malformed($"{at}.operation '{kind}' is not upsert or delete"),
            });
        }

        await rt.State.ApplyAsync(store, ops, "ERR_STATE_TRANSACTION", ctx.RequestAborted);
        return Results.NoContent();
    }

    private static Upsert ReadUpsert(JsonElement item, string at, IReadOnlyDictionary<string, string>? common = null)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw DaprError.Malformed($"{at} must be an object with key and value");
        }

        var key = Key(item, at);
        byte[] value = item.TryGetProperty("value", out var v) ? Encoding.UTF8.GetBytes(v.GetRawText()) : [];
        Dictionary<string, string>? metadata = item.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object
            ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText())
            : null;
        if (common is { Count: > 0 })
        {
            metadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, val) in common)
            {
                metadata[k] = val;
            }
        }

        return new Upsert(key, value, Etag(item), Concurrency(item), StateService.ParseTtl(metadata));
    }

    private static string Key(JsonElement item, string at) =>
        item.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() is { Length: > 0 } key
            ? key
            : throw DaprError.Malformed($"{at}.key is required (a non-empty string)");

    private static string? Etag(JsonElement item) =>
        item.TryGetProperty("etag", out var e) && e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } etag ? etag : null;

    private static Concurrency Concurrency(JsonElement item) =>
        item.TryGetProperty("options", out var o) && o.ValueKind == JsonValueKind.Object && o.TryGetProperty("concurrency", out var c)
            ? StateService.ParseConcurrency(c.GetString())
            : State.Concurrency.Unspecified;

    // ---- pub/sub ----

    private static async Task<IResult> Publish(HttpContext ctx, SidecarRuntime rt, string pubsub, string? topic)
    {
        rt.Components.PubSub(pubsub);
        byte[] body;
        try
        {
            body = await ReadBody(ctx);
        }
        catch (DaprError e) when (e.ErrorCode == BodyTooLargeCode)
        {
            // daprd's publish handler reports a failed body read as a failed publish (pkg/api/http/http.go onPublish).
            throw new DaprError("ERR_PUBSUB_PUBLISH_MESSAGE", $"error when publishing to topic {topic} in pubsub {pubsub}: {StreamTooLarge}", 500,
                Grpc.Core.StatusCode.Internal, "DAPR_PUBSUB_PUBLISH_MESSAGE");
        }

        await rt.Publisher.PublishAsync(pubsub, topic ?? "", body, ctx.Request.ContentType, QueryMetadata(ctx),
            ctx.Request.Headers["traceparent"].FirstOrDefault(), ctx.Request.Headers["tracestate"].FirstOrDefault(), ctx.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> BulkPublish(HttpContext ctx, SidecarRuntime rt, string pubsub, string? topic)
    {
        rt.Components.PubSub(pubsub);
        using var doc = await ReadJson(ctx);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be a JSON array of {entryId, event, contentType, metadata?}");
        }

        // Every entry is read before any is published: a bad request publishes nothing.
        var entries = new List<BulkPublishEntry>();
        foreach (var entry in doc.RootElement.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                throw DaprError.Malformed("every bulk entry must be an object");
            }

            // daprd decodes with Go's case-insensitive JSON: the JS SDK sends "entryID", the .NET SDK "entryId".
            JsonElement? Field(string name) => entry.EnumerateObject()
                .Where(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(p => (JsonElement?)p.Value).FirstOrDefault();
            var id = Field("entryId") is { ValueKind: JsonValueKind.String } e ? e.GetString()! : "";
            var contentType = Field("contentType") is { ValueKind: JsonValueKind.String } c ? c.GetString()! : "application/json";
            if (Field("event") is not { } ev)
            {
                throw DaprError.Malformed($"entry '{id}' has no event");
            }

            var data = ev.ValueKind == JsonValueKind.String && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase)
                ? Encoding.UTF8.GetBytes(ev.GetString()!)
                : Encoding.UTF8.GetBytes(ev.GetRawText());
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Field("metadata") is { ValueKind: JsonValueKind.Object } m)
            {
                foreach (var p in m.EnumerateObject())
                {
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
                }
            }

            entries.Add(new BulkPublishEntry(id, data, contentType, metadata));
        }

        var failed = (await rt.Publisher.BulkPublishAsync(pubsub, topic ?? "", entries, QueryMetadata(ctx), ctx.Request.Headers["traceparent"].FirstOrDefault(), null, ctx.RequestAborted))
            .Select(f => new { entryId = f.EntryId, error = f.Error }).ToList();
        return failed.Count == 0 ? Results.NoContent()
            : Results.Json(new { failedEntries = failed, errorCode = "ERR_PUBSUB_PUBLISH_MESSAGE" }, statusCode: 500);
    }

    private static Dictionary<string, string> QueryMetadata(HttpContext ctx)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in ctx.Request.Query)
        {
            if (k.StartsWith("metadata.", StringComparison.Ordinal))
            {
                metadata[k["metadata.".Length..]] = v.ToString();
            }
        }

        return metadata;
    }

    // ---- secrets ----

    private static IResult Secret(SidecarRuntime rt, string store, string key)
    {
        var s = rt.Components.SecretStore(store);
        if (!rt.SecretScopes.Allows(store, key))
        {
            throw DaprError.SecretPermissionDenied(key, store);
        }

        return s.TryGet(key, out var values) ? Results.Json(values)
            : Results.Json(new ErrorBody("ERR_SECRET_GET", $"failed getting secret with key {key} from secret store {store}: secret {key} not found"), statusCode: 500);
    }

    /// <summary>Every secret the scopes allow; the others are left out, not refused (daprd's GetBulkSecret filters).</summary>
    private static IResult BulkSecrets(SidecarRuntime rt, string store)
    {
        var s = rt.Components.SecretStore(store);
        return Results.Json(s.Names.Where(n => rt.SecretScopes.Allows(store, n))
            .ToDictionary(n => n, n => s.TryGet(n, out var v) ? v : new Dictionary<string, string>()));
    }

    // ---- invocation ----

    private static Task Invoke(HttpContext ctx, SidecarRuntime rt, string appId) =>
        InvokeCore(ctx, rt, Uri.UnescapeDataString(appId), viaHeader: false);

    /// <summary>A request a peer sidecar forwarded (its marker is the registry secret) for this sidecar's own app.</summary>
    private static bool IsForwardedToOwnApp(HttpContext ctx, SidecarRuntime rt)
    {
        if (!ctx.Request.Headers.TryGetValue(Invoker.ForwardedHeader, out var marker))
        {
            return false;
        }

        // /v1.0/invoke/{app-id}/method/...
        var segments = ctx.Request.Path.Value!.Split('/', 6);
        return segments.Length == 6 && segments[0].Length == 0 && segments[1] == "v1.0" && segments[2] == "invoke" && segments[4] == "method"
            && Uri.UnescapeDataString(segments[3]) == rt.AppId
            && rt.Invoker.IsPeer(marker.FirstOrDefault());
    }

    private static async Task InvokeCore(HttpContext ctx, SidecarRuntime rt, string appId, bool viaHeader)
    {
        byte[] body;
        try
        {
            body = await ReadBody(ctx);
        }
        catch (DaprError e) when (e.ErrorCode == BodyTooLargeCode)
        {
            // daprd streams the body on and fails the invocation when the limit cuts it off.
            throw DaprError.DirectInvoke($"failed to invoke, id: {appId}, err: {StreamTooLarge}");
        }

        var headers = ctx.Request.Headers.Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!)).ToList();
        var forwarded = !viaHeader && IsForwardedToOwnApp(ctx, rt);
        var caller = forwarded ? ctx.Request.Headers["dapr-caller-app-id"].FirstOrDefault() : rt.AppId;
        var raw = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value!;
        var call = new OutboundCall(ctx.Request.Method, MethodPath.FromRawTarget(raw, viaHeader), ctx.Request.QueryString.Value ?? "", body, headers, caller);
        using var result = await rt.Invoker.InvokeAsync(appId, call, forwarded, ctx.RequestAborted);
        var response = result.Response;
        ctx.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in Invoker.ResponseHeaders(response))
        {
            if (!forwarded && AppChannelHeaders.IsPrivate(name))
            {
                continue; // a gRPC app's status, for a gRPC caller's sidecar only
            }

            ctx.Response.Headers[name] = values.ToArray();
        }

        await response.Content.CopyToAsync(ctx.Response.Body, ctx.RequestAborted);
    }

    // ---- helpers ----

    private const string BodyTooLargeCode = "ERR_BODY_READ";

    /// <summary>What daprd's body limit reports (dapr/kit streams.ErrStreamTooLarge).</summary>
    private const string StreamTooLarge = "stream too large";

    /// <summary>
    /// The request body, up to <c>--max-body-size</c>. A larger one is refused before any of it is used, as daprd's
    /// limit makes the read fail: <c>ERR_BODY_READ</c> 400 (its generic handlers); the state, publish and invoke
    /// handlers turn that into the error daprd's own handlers give for a failed read.
    /// </summary>
    internal static async Task<byte[]> ReadBody(HttpContext ctx)
    {
        var max = ctx.RequestServices.GetRequiredService<SidecarRuntime>().Options.MaxBodySize;
        if (ctx.Request.ContentLength > max)
        {
            throw BodyTooLarge();
        }

        try
        {
            if (ctx.Request.ContentLength is { } length)
            {
                var buffer = new byte[length];
                await ctx.Request.Body.ReadExactlyAsync(buffer, ctx.RequestAborted);
                return buffer;
            }

            // No length given (chunked): Kestrel's MaxRequestBodySize (the same limit) stops the read.
            using var ms = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(ms, ctx.RequestAborted);
            return ms.Length > max ? throw BodyTooLarge() : ms.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw BodyTooLarge();
        }
    }

    internal static DaprError BodyTooLarge() =>
        new(BodyTooLargeCode, $"failed to read request body: {StreamTooLarge}", 400, Grpc.Core.StatusCode.InvalidArgument);

    private static async Task<JsonDocument> ReadJson(HttpContext ctx)
    {
        byte[] body;
        try
        {
            body = await ReadBody(ctx);
        }
        catch (DaprError e) when (e.ErrorCode == BodyTooLargeCode)
        {
            // daprd's state handlers decode the body as they read it: the cut-off read is a malformed request.
            throw DaprError.Malformed(StreamTooLarge);
        }

        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw DaprError.Malformed($"the body is not valid JSON: {e.Message}");
        }
    }

    internal static void WriteValue(Utf8JsonWriter w, ReadOnlySpan<byte> data)
    {
        try
        {
            using var doc = JsonDocument.Parse(data.ToArray());
            doc.RootElement.WriteTo(w);
        }
        catch (JsonException)
        {
            w.WriteStringValue(Encoding.UTF8.GetString(data));
        }
    }
}
