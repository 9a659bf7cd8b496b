using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Platform.Sidecar.Api;

/// <summary>The secrets API over HTTP (<c>/v1.0/secrets</c>): translates to and from <see cref="Secrets.SecretsService"/>.</summary>
internal static partial class HttpApi
{
    private static void MapSecrets(IEndpointRouteBuilder web)
    {
        web.MapGet("/v1.0/secrets/{store}/bulk", BulkSecrets);
        web.MapGet("/v1.0/secrets/{store}/{key}", Secret);
    }

    private static IResult Secret(SidecarRuntime rt, string store, string key) => Results.Json(rt.Secrets.Get(store, key));

    /// <summary>Every secret the scopes allow; the others are left out, not refused (daprd's GetBulkSecret filters).</summary>
    private static IResult BulkSecrets(SidecarRuntime rt, string store) => Results.Json(rt.Secrets.BulkGet(store));
}
