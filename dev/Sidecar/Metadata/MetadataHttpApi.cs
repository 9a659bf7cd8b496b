using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Platform.Sidecar.Api;

/// <summary>The metadata API over HTTP (daprd pkg/api/http/metadata.go): renders <see cref="MetadataService.Snapshot"/> as daprd's JSON.</summary>
internal static partial class HttpApi
{
    private static void MapMetadata(IEndpointRouteBuilder web)
    {
        web.MapGet("/v1.0/metadata", GetMetadata);
        web.MapPut("/v1.0/metadata/{key}", PutMetadata);
    }

    private static IResult GetMetadata(SidecarRuntime rt)
    {
        var m = MetadataService.Snapshot(rt);
        var actors = m.ActiveActors.Select(a => new { type = a.Type, count = a.Count }).ToList();
        return Results.Json(new
        {
            id = m.Id,
            runtimeVersion = m.RuntimeVersion,
            enabledFeatures = Array.Empty<string>(),
            actors,
            components = m.Components.Select(c => new { name = c.Name, type = c.Type, version = c.Version, capabilities = c.Capabilities }),
            extended = m.Extended,
            subscriptions = m.Subscriptions.Select(s => new
            {
                pubsubname = s.PubSubName,
                topic = s.Topic,
                metadata = s.Metadata,
                rules = s.Rules.Select(r => new { match = r.Match, path = r.Path }),
                deadLetterTopic = s.DeadLetterTopic ?? "",
                type = s.Origin == "app" ? "PROGRAMMATIC" : "DECLARATIVE",
            }),
            httpEndpoints = Array.Empty<object>(),
            appConnectionProperties = new
            {
                port = m.App.Port,
                protocol = m.App.Protocol,
                channelAddress = m.App.ChannelAddress,
                maxConcurrency = m.App.MaxConcurrency,
            },
            actorRuntime = new
            {
                runtimeStatus = "RUNNING",
                activeActors = actors,
                hostReady = m.ActorHostReady,
                placement = MetadataService.Placement,
            },
        });
    }

    private static async Task<IResult> PutMetadata(HttpContext ctx, SidecarRuntime rt, string key)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        MetadataService.Set(rt, key, await reader.ReadToEndAsync(ctx.RequestAborted));
        return Results.NoContent();
    }
}
