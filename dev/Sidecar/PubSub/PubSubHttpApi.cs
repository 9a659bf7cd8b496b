using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using BulkPublishEntry = Platform.Sidecar.PubSub.BulkPublishEntry;

namespace Platform.Sidecar.Api;

/// <summary>The publish API over HTTP (daprd <c>pkg/api/http</c> publish handlers): translates to and from <see cref="PubSub.Publisher"/>.</summary>
internal static partial class HttpApi
{
    private static void MapPubSub(IEndpointRouteBuilder web)
    {
        web.MapMethods("/v1.0/publish/{pubsub}/{**topic}", ["POST", "PUT"], Publish);
        web.MapMethods("/v1.0-alpha1/publish/bulk/{pubsub}/{**topic}", ["POST", "PUT"], BulkPublish);
        web.MapMethods("/v1.0/publish/bulk/{pubsub}/{**topic}", ["POST", "PUT"], BulkPublish);
    }

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
}
