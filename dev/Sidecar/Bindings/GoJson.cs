using System.Text;
using System.Text.Json;

namespace Platform.Sidecar.Bindings;

/// <summary>
/// daprd's HTTP binding handler decodes <c>data</c> into a Go <c>any</c> and hands the binding
/// <c>json.Marshal(req.Data)</c> (dapr/dapr pkg/api/http/http.go <c>onOutputBindingMessage</c>). This writes a JSON
/// value the same way: compact, object keys sorted, strings escaped as Go's encoder does (<c>&lt;</c>, <c>&gt;</c>,
/// <c>&amp;</c>, U+2028/2029 as <c>\u....</c>). Numbers keep the text the caller wrote (Go would rewrite them
/// through a float64: <c>1.0</c> as <c>1</c>).
/// </summary>
internal static class GoJson
{
    public static byte[] Marshal(JsonElement value)
    {
        var sb = new StringBuilder();
        Write(sb, value);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static void Write(StringBuilder sb, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                var first = true;
                // A Go map: the last of duplicate keys wins, and keys come out sorted.
                var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                foreach (var p in e.EnumerateObject())
                {
                    properties[p.Name] = p.Value;
                }

                foreach (var (name, value) in properties.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }

                    first = false;
                    String(sb, name);
                    sb.Append(':');
                    Write(sb, value);
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    if (i++ > 0)
                    {
                        sb.Append(',');
                    }

                    Write(sb, item);
                }

                sb.Append(']');
                break;
            case JsonValueKind.String:
                String(sb, e.GetString()!);
                break;
            case JsonValueKind.Number:
                sb.Append(e.GetRawText());
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    private static void String(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '\b':
                    sb.Append("\\b");
                    break;
                case '\f':
                    sb.Append("\\f");
                    break;
                case '<' or '>' or '&' or '\u2028' or '\u2029':
                case < ' ':
                    sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }
}
