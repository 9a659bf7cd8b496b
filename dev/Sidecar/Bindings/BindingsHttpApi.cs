using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Builder;
using Platform.Sidecar.Bindings;

namespace Platform.Sidecar.Api;

/// <summary>
/// <c>POST|PUT /v1.0/bindings/{name}</c> with <c>{"data", "metadata", "operation"}</c>, as dapr/dapr
/// <c>pkg/api/http/http.go</c> <c>onOutputBindingMessage</c>: the binding gets <c>data</c> re-encoded as JSON
/// (<see cref="GoJson"/>); the answer is 200 with the binding's data (<c>application/json</c>) or 204 when the
/// binding answers nothing, and the binding's response metadata as <c>metadata.{key}</c> headers. A body that is not
/// such a JSON object is <c>ERR_MALFORMED_REQUEST</c> (400).
/// </summary>
internal static partial class HttpApi
{
    static partial void MapBindings(IEndpointRouteBuilder web) =>
        web.MapMethods("/v1.0/bindings/{name}", ["POST", "PUT"], InvokeBinding);

    private static async Task InvokeBinding(HttpContext ctx, SidecarRuntime rt, string name)
    {
        var request = ParseBindingRequest(await ReadBindingBody(ctx));
        var response = await rt.Bindings.InvokeAsync(name, request, ctx.RequestAborted);
        if (response is null)
        {
            ctx.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        foreach (var (k, v) in response.Metadata)
        {
            ctx.Response.Headers.Append("metadata." + k, v);
        }

        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(response.Data, ctx.RequestAborted);
    }

    private static async Task<byte[]> ReadBindingBody(HttpContext ctx)
    {
        try
        {
            return await ReadBody(ctx);
        }
        catch (DaprError e) when (e.ErrorCode == BodyTooLargeCode)
        {
            // daprd decodes the body as it reads it: a cut-off read is a malformed request.
            throw Malformed(StreamTooLarge);
        }
    }

    private static DaprError Malformed(string detail) => DaprError.Malformed($"failed deserializing HTTP body: {detail}");

    /// <summary>daprd's <c>OutputBindingRequest</c> as Go's decoder reads it: field names in any case, nulls as absent.</summary>
    internal static BindingRequest ParseBindingRequest(byte[] body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw Malformed(body.Length == 0 ? "EOF" : e.Message);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Null)
            {
                return new BindingRequest("", "null"u8.ToArray(), new Dictionary<string, string>());
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Malformed($"json: cannot unmarshal {GoKind(root)} into Go value of type http.OutputBindingRequest");
            }

            var operation = "";
            byte[] data = "null"u8.ToArray();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name.Equals("operation", StringComparison.OrdinalIgnoreCase))
                {
                    operation = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString()!,
                        JsonValueKind.Null => operation,
                        _ => throw Malformed($"json: cannot unmarshal {GoKind(p.Value)} into Go struct field OutputBindingRequest.operation of type string"),
                    };
                }
                else if (p.Name.Equals("data", StringComparison.OrdinalIgnoreCase))
                {
                    data = GoJson.Marshal(p.Value);
                }
                else if (p.Name.Equals("metadata", StringComparison.OrdinalIgnoreCase))
                {
                    if (p.Value.ValueKind == JsonValueKind.Null)
                    {
                        continue;
                    }

                    if (p.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw Malformed($"json: cannot unmarshal {GoKind(p.Value)} into Go struct field OutputBindingRequest.metadata of type map[string]string");
                    }

                    foreach (var m in p.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()!
                            : throw Malformed($"json: cannot unmarshal {GoKind(m.Value)} into Go struct field OutputBindingRequest.metadata of type string");
                    }
                }
            }

            return new BindingRequest(operation, data, metadata);
        }
    }

    private static string GoKind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        JsonValueKind.Number => "number",
        JsonValueKind.String => "string",
        _ => "bool",
    };
}
