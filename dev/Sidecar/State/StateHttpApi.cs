using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Platform.Sidecar.State;

namespace Platform.Sidecar.Api;

/// <summary>The state API over HTTP (daprd <c>pkg/api/http</c> state handlers): translates to and from <see cref="State.StateService"/>.</summary>
internal static partial class HttpApi
{
    private static void MapState(IEndpointRouteBuilder web)
    {
        web.MapGet("/v1.0/state/{store}/{key}", GetState);
        web.MapMethods("/v1.0/state/{store}", ["POST", "PUT"], SaveState);
        web.MapDelete("/v1.0/state/{store}/{key}", DeleteState);
        web.MapMethods("/v1.0/state/{store}/bulk", ["POST", "PUT"], BulkGetState);
        web.MapMethods("/v1.0/state/{store}/transaction", ["POST", "PUT"], Transaction);
    }

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
        rt.Components.StateStore(store); // an unknown store is refused before the body is read, as daprd does
        using var doc = await ReadJson(ctx);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be {\"keys\": [..]}");
        }

        var names = keys.EnumerateArray().Select(k => k.GetString() ?? throw DaprError.Malformed("keys must be strings")).ToList();
        var results = await rt.State.BulkGetAsync(store, names, ctx.RequestAborted);

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
}
