using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Platform.Sidecar.Api;

/// <summary>
/// The distributed lock API over HTTP (dapr/dapr <c>pkg/api/http/lock.go</c>): daprd decodes the body with
/// protojson into <c>TryLockRequest</c> / <c>UnlockRequest</c>, runs the universal operation and answers
/// <c>{"success":bool}</c> and <c>{"status":n}</c> (unpopulated fields included, the status as its number).
/// </summary>
internal static partial class HttpApi
{
    static partial void MapLocks(IEndpointRouteBuilder web)
    {
        web.MapPost("/v1.0-alpha1/lock/{storeName}", TryLock);
        web.MapPost("/v1.0-alpha1/unlock/{storeName}", Unlock);
    }

    private static async Task<IResult> TryLock(HttpContext ctx, SidecarRuntime rt, string storeName)
    {
        var body = await ReadProtoJson(ctx);
        var success = await rt.Locks.TryLockAsync(storeName, ProtoString(body, "resourceId", "resource_id"), ProtoString(body, "lockOwner", "lock_owner"),
            ProtoInt32(body, "expiryInSeconds", "expiry_in_seconds"), ctx.RequestAborted);
        return Results.Json(new { success }, contentType: JsonContentType);
    }

    private static async Task<IResult> Unlock(HttpContext ctx, SidecarRuntime rt, string storeName)
    {
        var body = await ReadProtoJson(ctx);
        var status = await rt.Locks.UnlockAsync(storeName, ProtoString(body, "resourceId", "resource_id"), ProtoString(body, "lockOwner", "lock_owner"), ctx.RequestAborted);
        return Results.Json(new { status = (int)status }, contentType: JsonContentType);
    }

    /// <summary>
    /// The body as daprd's universal handler reads it (<c>pkg/api/http/universal.go</c>): empty is all defaults,
    /// anything protojson refuses is <c>ERR_MALFORMED_REQUEST</c> "failed deserializing HTTP body: ...".
    /// </summary>
    private static async Task<JsonElement?> ReadProtoJson(HttpContext ctx)
    {
        var bytes = await ReadBody(ctx);
        if (bytes.Length == 0)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? doc.RootElement.Clone()
                : throw MalformedBody($"expected a JSON object, got {doc.RootElement.ValueKind}");
        }
        catch (JsonException e)
        {
            throw MalformedBody(e.Message);
        }
    }

    /// <summary>daprd's <c>jsonContentTypeHeader</c>: no charset parameter.</summary>
    private const string JsonContentType = "application/json";

    private static DaprError MalformedBody(string detail) => DaprError.Malformed($"failed deserializing HTTP body: {detail}");

    /// <summary>protojson accepts a field by its JSON name or its proto name; null is the default.</summary>
    private static JsonElement? ProtoField(JsonElement? body, string jsonName, string protoName) =>
        body is { } b && (b.TryGetProperty(jsonName, out var v) || b.TryGetProperty(protoName, out v)) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string ProtoString(JsonElement? body, string jsonName, string protoName) => ProtoField(body, jsonName, protoName) switch
    {
        null => "",
        { ValueKind: JsonValueKind.String } s => s.GetString()!,
        { } other => throw MalformedBody($"invalid value for string field {jsonName}: {other.GetRawText()}"),
    };

    /// <summary>An int32 as protojson takes it: a JSON number or a string holding one, without a fraction.</summary>
    private static int ProtoInt32(JsonElement? body, string jsonName, string protoName) => ProtoField(body, jsonName, protoName) switch
    {
        null => 0,
        { ValueKind: JsonValueKind.Number } n when n.TryGetInt32(out var i) => i,
        { ValueKind: JsonValueKind.String } s when int.TryParse(s.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) => i,
        { } other => throw MalformedBody($"invalid value for int32 field {jsonName}: {other.GetRawText()}"),
    };
}
