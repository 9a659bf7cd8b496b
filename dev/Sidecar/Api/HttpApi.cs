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
        MapMetadata(web);
        web.MapPost("/v1.0/shutdown", (SidecarRuntime rt) =>
        {
            rt.RequestShutdown();
            return Results.NoContent();
        });

        MapState(web);
        MapPubSub(web);
        MapSecrets(web);
        MapInvocation(web);
        Actors.ActorHttpApi.Map(web);
        MapLocks(web);
        MapConfiguration(web);
        MapBindings(web);
        MapWorkflows(web);
        web.MapFallback(Fallback);
    }

    // Each building block's folder maps its own routes in its part of this class.
    static partial void MapLocks(IEndpointRouteBuilder web);

    static partial void MapConfiguration(IEndpointRouteBuilder web);

    static partial void MapBindings(IEndpointRouteBuilder web);

    static partial void MapWorkflows(IEndpointRouteBuilder web);

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
    /// where the caller cannot know this app's token. The secret opens no other API. A gRPC method is left to
    /// <see cref="ApiTokenInterceptor"/>, which answers <c>Unauthenticated</c> with daprd's message (a 401 here
    /// would reach a gRPC client only as a transport error mapped from the HTTP status).
    /// </summary>
    private static Task ApiToken(HttpContext ctx, RequestDelegate next)
    {
        var rt = ctx.RequestServices.GetRequiredService<SidecarRuntime>();
        if (rt.Options.ApiToken is not { } token
            || ctx.GetEndpoint()?.Metadata.GetMetadata<Grpc.AspNetCore.Server.GrpcMethodMetadata>() is not null
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
