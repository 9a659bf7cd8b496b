using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;

namespace Platform.Sidecar.Invocation;

/// <summary>A call to another app's method, with the body already read (so it can be retried on another replica).</summary>
public sealed record OutboundCall(string Method, string PathAndQuery, byte[] Body, IReadOnlyList<KeyValuePair<string, string[]>> Headers, string? CallerAppId);

/// <summary>The callee's answer; dispose it once the body has been read (it holds the app's concurrency slot).</summary>
public sealed class InvocationResult(HttpResponseMessage response, IDisposable lease) : IDisposable
{
    public HttpResponseMessage Response { get; } = response;

    public void Dispose()
    {
        Response.Dispose();
        lease.Dispose();
    }
}

/// <summary>
/// Service invocation. The caller's sidecar picks a replica of the target app-id round-robin (as daprd's mDNS
/// resolver does) and forwards the call to that replica's sidecar; that sidecar calls its own app under the
/// app-max-concurrency cap, adding <c>dapr-caller-app-id</c>/<c>dapr-callee-app-id</c>. The callee's status, headers
/// and body come back unchanged. A replica that cannot be reached is skipped and the next one tried.
/// </summary>
public sealed class Invoker(string appId, string instanceId, NameRegistry registry, AppChannel app, ILogger logger) : IDisposable
{
    /// <summary>Marks a call one sidecar forwards to another: the receiver delivers it to its own app.</summary>
    public const string ForwardedHeader = "x-platform-sidecar-forwarded";

    private static readonly HashSet<string> Dropped = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "dapr-app-id", "dapr-caller-app-id", "dapr-callee-app-id",
        "dapr-caller-namespace", ForwardedHeader,
    };

    private readonly ConcurrentDictionary<string, int> _next = new(StringComparer.Ordinal);
    private readonly HttpMessageInvoker _peers = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(2),
    });

    public async Task<InvocationResult> InvokeAsync(string targetAppId, OutboundCall call, bool forwarded, CancellationToken ct)
    {
        if (forwarded && targetAppId == appId)
        {
            return await CallAppAsync(call, ct);
        }

        var replicas = registry.Resolve(targetAppId);
        if (replicas.Length == 0)
        {
            replicas = registry.Resolve(targetAppId, fresh: true);
        }

        if (replicas.Length == 0)
        {
            throw DaprError.DirectInvoke($"failed to invoke, id: {targetAppId}, err: couldn't find service: {targetAppId}");
        }

        var start = (uint)_next.AddOrUpdate(targetAppId, 0, (_, n) => unchecked(n + 1));
        Exception? last = null;
        for (var i = 0; i < replicas.Length; i++)
        {
            var replica = replicas[(start + i) % replicas.Length];
            if (replica.InstanceId == instanceId)
            {
                return await CallAppAsync(call, ct);
            }

            try
            {
                return await ForwardAsync(replica, call, ct);
            }
            catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
            {
                // That replica is gone (killed without unregistering): try the next, and look again next time.
                logger.LogWarning("Replica {Instance} of {AppId} unreachable, trying another: {Error}", replica.InstanceId, targetAppId, e.Message);
                registry.Resolve(targetAppId, fresh: true);
                last = e;
            }
        }

        throw DaprError.DirectInvoke($"failed to invoke, id: {targetAppId}, err: no replica reachable: {last?.Message}");
    }

    private async Task<InvocationResult> ForwardAsync(Replica replica, OutboundCall call, CancellationToken ct)
    {
        var method = call.PathAndQuery.TrimStart('/');
        using var request = Build(call, new Uri($"{replica.HttpEndpoint}/v1.0/invoke/{Uri.EscapeDataString(replica.AppId)}/method/{method}"));
        request.Headers.TryAddWithoutValidation(ForwardedHeader, "1");
        request.Headers.TryAddWithoutValidation("dapr-caller-app-id", call.CallerAppId ?? appId);
        var response = await _peers.SendAsync(request, ct);
        return new InvocationResult(response, NoLease.Instance);
    }

    private async Task<InvocationResult> CallAppAsync(OutboundCall call, CancellationToken ct)
    {
        if (app.BaseAddress is null)
        {
            throw DaprError.DirectInvoke($"failed to invoke, id: {appId}, err: the app has no port (sidecar started without --app-port)");
        }

        var lease = await app.AcquireAsync(ct);
        try
        {
            using var request = Build(call, new Uri(app.BaseAddress, call.PathAndQuery.StartsWith('/') ? call.PathAndQuery : "/" + call.PathAndQuery));
            request.Headers.TryAddWithoutValidation("dapr-caller-app-id", call.CallerAppId ?? appId);
            request.Headers.TryAddWithoutValidation("dapr-callee-app-id", appId);
            if (app.AppApiToken is not null)
            {
                request.Headers.Remove("dapr-api-token");
                request.Headers.TryAddWithoutValidation("dapr-api-token", app.AppApiToken);
            }

            var response = await app.Client.SendAsync(request, ct); // an HttpMessageInvoker streams the body: nothing is buffered
            return new InvocationResult(response, lease);
        }
        catch (HttpRequestException e)
        {
            lease.Dispose();
            throw DaprError.DirectInvoke($"failed to invoke, id: {appId}, err: the app did not answer: {e.Message}");
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    private static HttpRequestMessage Build(OutboundCall call, Uri uri)
    {
        var request = new HttpRequestMessage(new HttpMethod(call.Method), uri)
        {
            Version = HttpVersion.Version11,
        };
        if (call.Body.Length > 0 || call.Method is not ("GET" or "HEAD" or "DELETE"))
        {
            request.Content = new ByteArrayContent(call.Body);
        }

        foreach (var (name, values) in call.Headers)
        {
            if (Dropped.Contains(name))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        return request;
    }

    /// <summary>Headers not to copy back to the caller from the callee's response.</summary>
    public static bool IsHopByHop(string name) =>
        name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase) || name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Trailer", StringComparison.OrdinalIgnoreCase);

    public static IEnumerable<KeyValuePair<string, IEnumerable<string>>> ResponseHeaders(HttpResponseMessage r) =>
        r.Headers.Concat(r.Content.Headers).Where(h => !IsHopByHop(h.Key));

    public void Dispose() => _peers.Dispose();

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }
}

internal static class HeaderExtensions
{
    public static string? ContentType(this HttpContentHeaders? headers) => headers?.ContentType?.ToString();
}
