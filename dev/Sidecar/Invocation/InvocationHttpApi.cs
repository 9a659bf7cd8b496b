using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Api;

/// <summary>Service invocation over HTTP (<c>/v1.0/invoke</c> and the <c>dapr-app-id</c> header): translates to and from <see cref="Invocation.Invoker"/>.</summary>
internal static partial class HttpApi
{
    private static void MapInvocation(IEndpointRouteBuilder web)
    {
        web.Map("/v1.0/invoke/{appId}/method/{**method}", Invoke);
    }

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
}
