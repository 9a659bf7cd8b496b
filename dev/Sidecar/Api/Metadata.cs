using System.Text;
using Microsoft.AspNetCore.Http;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Api;

/// <summary><c>GET /v1.0/metadata</c> as daprd shapes it (pkg/api/http/metadata.go), and <c>PUT /v1.0/metadata/{key}</c>.</summary>
internal static class Metadata
{
    public const string RuntimeVersion = "1.19.0-platform-dev";

    public static IResult GetHttp(SidecarRuntime rt) => Results.Json(new
    {
        id = rt.AppId,
        runtimeVersion = RuntimeVersion,
        enabledFeatures = Array.Empty<string>(),
        actors = rt.Actors.ActiveCounts().Select(a => new { type = a.Type, count = a.Count }),
        components = rt.Components.All.Select(c => new
        {
            name = c.Name,
            type = c.Type,
            version = c.Version,
            capabilities = Capabilities(c.Type),
        }),
        extended = rt.Extended,
        subscriptions = rt.Subscriber.Subscriptions.Select(s => new
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
            port = rt.App.Port ?? 0,
            protocol = rt.App.Protocol.Name(),
            channelAddress = rt.Options.AppChannelAddress,
            maxConcurrency = Math.Max(rt.App.MaxConcurrency, 0),
        },
        actorRuntime = new
        {
            runtimeStatus = "RUNNING",
            activeActors = rt.Actors.ActiveCounts().Select(a => new { type = a.Type, count = a.Count }),
            hostReady = rt.Actors.HostedTypes.Count > 0,
            placement = "placement: consistent hashing over the sidecar name registry",
        },
    });

    public static async Task<IResult> PutHttp(HttpContext ctx, SidecarRuntime rt, string key)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        rt.Extended[key] = await reader.ReadToEndAsync(ctx.RequestAborted);
        return Results.NoContent();
    }

    public static string[] Capabilities(string type) => type switch
    {
        "state.in-memory" => ["ETAG", "TRANSACTIONAL", "TTL", "ACTOR"],
        "state.redis" => ["ETAG", "TRANSACTIONAL", "TTL", "ACTOR"],
        "pubsub.redis" or "pubsub.in-memory" => ["SUBSCRIBE_WILDCARDS"],
        "bindings.redis" => ["OUTPUT_BINDING"],
        "bindings.cron" => ["INPUT_BINDING"],
        _ => [],
    };
}
