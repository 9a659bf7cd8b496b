using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Invocation;

/// <summary>A call to another app's method, with the body already read (so it can be retried on another replica).</summary>
/// <param name="Method">the HTTP verb</param>
/// <param name="Path">the app's method, decoded (no percent-escapes) and without a leading slash; normalised on the way in</param>
/// <param name="Query">the query string with its <c>?</c>, or empty</param>
/// <param name="Body">the request body, read whole</param>
/// <param name="Headers">the caller's headers</param>
/// <param name="CallerAppId">the calling app's id</param>
public sealed record OutboundCall(string Method, string Path, string Query, byte[] Body, IReadOnlyList<KeyValuePair<string, string[]>> Headers, string? CallerAppId)
{
    /// <summary>The trace context of this hop, which replaces the caller's on the way out.</summary>
    public string? Traceparent { get; init; }

    public string? Tracestate { get; init; }
}

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
public sealed class Invoker(string appId, string instanceId, NameRegistry registry, IAppChannel app, ILogger logger,
    Tracing tracing, IReadOnlyDictionary<string, TargetPolicy> targets, AccessControl? accessControl) : IDisposable
{
    /// <summary>Marks a call one sidecar forwards to another: the receiver delivers it to its own app.</summary>
    public const string ForwardedHeader = "x-platform-sidecar-forwarded";

    private static readonly HashSet<string> Dropped = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "dapr-app-id", "dapr-caller-app-id", "dapr-callee-app-id",
        "dapr-caller-namespace", ForwardedHeader,
    };

    /// <summary>Headers a call does not carry on (hop-by-hop ones and the sidecars' own).</summary>
    internal static bool IsDropped(string name) => Dropped.Contains(name);

    private readonly ConcurrentDictionary<string, int> _next = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CircuitBreaker> _breakers = new(StringComparer.Ordinal);
    private readonly HttpMessageInvoker _peers = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(2),
    });

    /// <summary>
    /// True when a request's forwarded marker is the registry's secret (a peer sidecar sent it). That vouches for the
    /// caller's app-id on an invocation of this sidecar's own app, and for nothing else.
    /// </summary>
    public bool IsPeer(string? marker) => Tokens.Match(marker, registry.InternalToken);

    public async Task<InvocationResult> InvokeAsync(string targetAppId, OutboundCall call, bool forwarded, CancellationToken ct)
    {
        // One form of the method for the policy and the app alike (daprd normalises at the invocation's entry too).
        call = call with { Path = MethodPath.Normalize(call.Path, targetAppId) };
        var incoming = Header(call, "traceparent");
        using var hop = tracing.Start(forwarded ? $"CallLocal/{appId}/{call.Path}" : $"CallRemote/{targetAppId}/{call.Path}",
            forwarded ? System.Diagnostics.ActivityKind.Server : System.Diagnostics.ActivityKind.Client, incoming, Header(call, "tracestate"));
        hop.Tag("dapr.app_id", targetAppId);
        call = call with { Traceparent = hop.Traceparent, Tracestate = hop.Tracestate };
        if (forwarded && targetAppId == appId)
        {
            return await CallAppAsync(call, ct);
        }

        if (!targets.TryGetValue(targetAppId, out var policy))
        {
            return await RouteAsync(targetAppId, call, ct);
        }

        // Resiliency for this target, as daprd applies it: a timeout per attempt, retries (on errors and 5xx), a breaker.
        var breaker = policy.Breaker is { } b ? _breakers.GetOrAdd(targetAppId, _ => new CircuitBreaker(b)) : null;
        for (var attempt = 1; ; attempt++)
        {
            if (breaker is not null && !breaker.TryEnter())
            {
                hop.Fail("circuit breaker open");
                throw DaprError.DirectInvoke($"failed to invoke, id: {targetAppId}, err: circuit breaker is open", 500, Grpc.Core.StatusCode.Unavailable);
            }

            InvocationResult? result = null;
            Exception? failure = null;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                if (policy.Timeout is { } t)
                {
                    timeout.CancelAfter(t);
                }

                try
                {
                    result = await RouteAsync(targetAppId, call, timeout.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    failure = DaprError.DirectInvoke($"failed to invoke, id: {targetAppId}, err: timeout after {policy.Timeout}", 504, Grpc.Core.StatusCode.DeadlineExceeded);
                }
                catch (DaprError e)
                {
                    failure = e;
                }
            }

            var ok = result is not null && (int)result.Response.StatusCode < 500;
            breaker?.Record(ok);
            if (ok)
            {
                return result!;
            }

            if (policy.Retry is { } retry && (retry.MaxRetries < 0 || attempt <= retry.MaxRetries))
            {
                logger.LogInformation("Call to {AppId} failed (attempt {Attempt}), retrying per policy {Policy}", targetAppId, attempt, retry.Name);
                result?.Dispose();
                await Task.Delay(retry.Delay(attempt), ct);
                continue;
            }

            hop.Fail(failure?.Message ?? $"status {(int)result!.Response.StatusCode}");
            return result ?? throw failure!;
        }
    }

    private async Task<InvocationResult> RouteAsync(string targetAppId, OutboundCall call, CancellationToken ct)
    {
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
        using var request = Build(call, new Uri($"{replica.HttpEndpoint}/v1.0/invoke/{Uri.EscapeDataString(replica.AppId)}/method/{MethodPath.Escape(call.Path.TrimStart('/'))}{call.Query}"));
        request.Headers.TryAddWithoutValidation(ForwardedHeader, registry.InternalToken);
        request.Headers.TryAddWithoutValidation("dapr-caller-app-id", call.CallerAppId ?? appId);
        var response = await _peers.SendAsync(request, ct);
        return new InvocationResult(response, NoLease.Instance);
    }

    private Task<InvocationResult> CallAppAsync(OutboundCall call, CancellationToken ct)
    {
        if (accessControl is not null && !accessControl.Allows(call.CallerAppId, call.Path, call.Method))
        {
            // Refused before the app sees anything, as daprd's callee-side access control does.
            throw DaprError.DirectInvoke(
                $"access control policy has denied access to id: {call.CallerAppId} operation: {call.Path} verb: {call.Method}",
                403, Grpc.Core.StatusCode.PermissionDenied);
        }

        if (app.Connection.BaseAddress is null)
        {
            throw DaprError.DirectInvoke($"failed to invoke, id: {appId}, err: the app has no port (sidecar started without --app-port)");
        }

        // The protocol (HTTP, h2c, gRPC) is the channel's business (no extra async step on the way).
        return app.InvokeMethodAsync(call, ct);
    }

    private const int LargeBody = 64 * 1024;

    /// <param name="call">the call</param>
    /// <param name="uri">where to</param>
    /// <param name="toApp">true for the app itself: the sidecars' private headers stay behind</param>
    internal static HttpRequestMessage Build(OutboundCall call, Uri uri, bool toApp = false)
    {
        var request = new HttpRequestMessage(new HttpMethod(call.Method), uri)
        {
            Version = HttpVersion.Version11,
        };
        if (call.Body.Length > 0 || call.Method is not ("GET" or "HEAD" or "DELETE"))
        {
            request.Content = new ByteArrayContent(call.Body);
        }

        // An app may refuse a large body before reading it (Kestrel's MaxRequestBodySize answers 413 and closes
        // the connection). daprd's Go client still hands back such an early answer; HttpClient would fail while
        // writing the body instead. Asking for 100-continue lets the app answer before the body is sent.
        if (call.Body.Length > LargeBody)
        {
            request.Headers.ExpectContinue = true;
        }

        foreach (var (name, values) in call.Headers)
        {
            if (Dropped.Contains(name) || (toApp && AppChannelHeaders.IsPrivate(name)) || (call.Traceparent is not null && (name.Equals("traceparent", StringComparison.OrdinalIgnoreCase) || name.Equals("tracestate", StringComparison.OrdinalIgnoreCase))))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        if (call.Traceparent is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", call.Traceparent);
            if (!string.IsNullOrEmpty(call.Tracestate))
            {
                request.Headers.TryAddWithoutValidation("tracestate", call.Tracestate);
            }
        }

        return request;
    }

    private static string? Header(OutboundCall call, string name) =>
        call.Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

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
