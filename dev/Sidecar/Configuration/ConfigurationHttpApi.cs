using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Configuration;

namespace Platform.Sidecar.Api;

/// <summary>
/// The configuration API over HTTP (dapr/dapr <c>pkg/api/http/http.go</c> <c>constructConfigurationEndpoints</c>):
/// the same three GET routes under <c>v1.0</c> and <c>v1.0-alpha1</c>; <c>?key=</c> repeated names the keys and
/// <c>metadata.*</c> query parameters are passed to the store.
/// </summary>
internal static partial class HttpApi
{
    static partial void MapConfiguration(IEndpointRouteBuilder web)
    {
        foreach (var version in (string[])["v1.0", "v1.0-alpha1"])
        {
            web.MapGet($"/{version}/configuration/{{storeName}}", GetConfiguration);
            web.MapGet($"/{version}/configuration/{{storeName}}/subscribe", SubscribeConfiguration);
            web.MapGet($"/{version}/configuration/{{storeName}}/{{subscribeId}}/unsubscribe", UnsubscribeConfiguration);
        }
    }

    /// <summary>200 with <c>{"key":{"value","version","metadata"}}</c> (empty fields left out, as Go's omitempty), or 204 when nothing matched.</summary>
    private static async Task GetConfiguration(HttpContext ctx, SidecarRuntime rt, string storeName)
    {
        var items = await rt.Configuration.GetAsync(storeName, ConfigurationKeys(ctx), QueryMetadata(ctx), ctx.RequestAborted);
        if (items.Count == 0)
        {
            ctx.Response.StatusCode = 204;
            return;
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await using (var w = new Utf8JsonWriter(ctx.Response.Body))
        {
            ConfigurationJson.WriteItems(w, items);
        }

        await ctx.Response.WriteAsync("\n", ctx.RequestAborted);
    }

    private static async Task<IResult> SubscribeConfiguration(HttpContext ctx, SidecarRuntime rt, string storeName)
    {
        var logger = ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger($"sidecar.{rt.AppId}.configuration");
        var id = await rt.Configuration.SubscribeAppAsync(storeName, ConfigurationKeys(ctx), QueryMetadata(ctx), logger, ctx.RequestAborted);
        return Results.Json(new { id }, contentType: JsonContentType);
    }

    /// <summary>200 <c>{"ok":true}</c>; an id the store does not have is 500 <c>{"ok":false,"message":..}</c> (not an errorCode body).</summary>
    private static async Task<IResult> UnsubscribeConfiguration(HttpContext ctx, SidecarRuntime rt, string storeName, string subscribeId)
    {
        var (ok, message) = await rt.Configuration.UnsubscribeAsync(storeName, subscribeId, ctx.RequestAborted);
        return ok ? Results.Json(new { ok = true }, contentType: JsonContentType) : Results.Json(new { ok = false, message }, contentType: JsonContentType, statusCode: 500);
    }

    private static List<string> ConfigurationKeys(HttpContext ctx) => ctx.Request.Query["key"].Where(k => k is not null).Select(k => k!).ToList();
}
