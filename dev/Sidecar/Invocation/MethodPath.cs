using System.Text;
using Platform.Sidecar.Api;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The method of an invocation in the one form that access control judges and the app receives: percent-decoded
/// (HTTP), then cleaned as daprd's <c>NormalizeMethod</c> does (dapr/dapr pkg/messaging/method/normalize.go): no
/// <c>#</c>, <c>?</c>, NUL or control characters, <c>.</c>/<c>..</c> segments resolved, leading <c>../</c> dropped.
/// Judging the still-encoded form would let <c>admin%2Fusers</c> or <c>x%2F..%2Fadmin</c> past a rule on <c>/admin/**</c>.
/// </summary>
internal static class MethodPath
{
    /// <summary>The method part of an HTTP invocation's request target, fully percent-decoded (<c>%2F</c> too).</summary>
    /// <param name="rawTarget">the request target as the client sent it (Kestrel's <c>Path</c> keeps <c>%2F</c> encoded and cannot tell it from a decoded <c>%252F</c>)</param>
    /// <param name="viaHeader">true for a call routed by its <c>dapr-app-id</c> header, whose whole path is the method</param>
    public static string FromRawTarget(string rawTarget, bool viaHeader)
    {
        var path = rawTarget;
        if (path.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(path, UriKind.Absolute, out var absolute))
        {
            path = absolute.GetComponents(UriComponents.Path | UriComponents.KeepDelimiter, UriFormat.UriEscaped);
        }

        var query = path.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            path = path[..query];
        }

        if (!viaHeader)
        {
            // /v1.0/invoke/{app-id}/method/{method}: the app-id is one segment, the method everything after it.
            const string Invoke = "/invoke/", Method = "/method/";
            var at = path.IndexOf(Invoke, StringComparison.Ordinal);
            var afterAppId = at < 0 ? -1 : path.IndexOf('/', at + Invoke.Length);
            path = afterAppId >= 0 && path.AsSpan(afterAppId).StartsWith(Method, StringComparison.Ordinal) ? path[(afterAppId + Method.Length)..] : "";
        }

        return Uri.UnescapeDataString(path);
    }

    /// <summary>daprd's normalisation of a (decoded) method, without a leading slash; a method it refuses is <c>ERR_DIRECT_INVOKE</c> / <c>InvalidArgument</c>.</summary>
    public static string Normalize(string method, string targetAppId)
    {
        foreach (var c in method)
        {
            if (c is '#' or '?' or '\0' || c < ' ' || c == '\x7f')
            {
                throw DaprError.DirectInvoke(
                    $"failed to invoke, id: {targetAppId}, err: invalid method: method contains a forbidden or control character: \"{Printable(method)}\"",
                    500, Grpc.Core.StatusCode.InvalidArgument);
            }
        }

        var cleaned = Clean(method).TrimStart('/'); // one form, whether the method came with a leading slash or not
        while (cleaned.StartsWith("../", StringComparison.Ordinal))
        {
            cleaned = cleaned[3..];
        }

        return cleaned is ".." or "." ? "" : cleaned;
    }

    /// <summary>The method as a URL path again: everything but unreserved characters, sub-delimiters, ':', '@' and '/' percent-encoded (as Go's URL encoder writes a path).</summary>
    public static string Escape(string method)
    {
        var sb = new StringBuilder(method.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in method.EnumerateRunes())
        {
            if (rune.IsAscii && (char.IsAsciiLetterOrDigit((char)rune.Value) || "-._~!$&'()*+,;=:@/".Contains((char)rune.Value, StringComparison.Ordinal)))
            {
                sb.Append((char)rune.Value);
                continue;
            }

            var n = rune.EncodeToUtf8(utf8);
            foreach (var b in utf8[..n])
            {
                sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    /// <summary>Go's <c>path.Clean</c>: one slash between segments, <c>.</c> dropped, <c>..</c> taking the segment before it, no trailing slash.</summary>
    private static string Clean(string path)
    {
        var rooted = path.StartsWith('/');
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (segments.Count > 0 && segments[^1] != "..")
                {
                    segments.RemoveAt(segments.Count - 1);
                }
                else if (!rooted)
                {
                    segments.Add("..");
                }

                continue;
            }

            segments.Add(segment);
        }

        var joined = string.Join('/', segments);
        return rooted ? "/" + joined : joined.Length == 0 ? "." : joined;
    }

    private static string Printable(string s) => string.Concat(s.Select(c => c < ' ' || c == '\x7f' ? $"\\x{(int)c:x2}" : c.ToString()));
}
