using System.Collections.Concurrent;
using System.Net;

namespace Platform.Sidecar.Invocation;

/// <summary>
/// The sidecar's connection to its own app. Every call into the app (invocation, event delivery, discovery)
/// goes through here, so <c>--app-max-concurrency</c> caps them all together, as daprd's app channels do. The
/// operations themselves are an <see cref="IAppChannel"/> per protocol; this is the address, the cap, the token
/// and the HTTP client they (and the actor runtime) share.
/// </summary>
public sealed class AppChannel : IDisposable
{
    private const int MaxCachedRoutes = 256;

    private readonly SemaphoreSlim? _limit;
    private readonly ConcurrentDictionary<string, Uri> _routes = new(StringComparer.Ordinal);

    public AppChannel(string address, int? port, int maxConcurrency, string? appApiToken, AppProtocol protocol = AppProtocol.Http)
    {
        Port = port;
        Protocol = protocol;
        AppApiToken = appApiToken;
        BaseAddress = port is { } p ? new Uri($"http://{address}:{p}") : null;
        _limit = maxConcurrency > 0 ? new SemaphoreSlim(maxConcurrency, maxConcurrency) : null;
        Client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        MaxConcurrency = maxConcurrency;
    }

    public int? Port { get; }

    /// <summary><c>--app-protocol</c>.</summary>
    public AppProtocol Protocol { get; }

    public Uri? BaseAddress { get; }

    public string? AppApiToken { get; }

    public int MaxConcurrency { get; }

    public HttpMessageInvoker Client { get; }

    /// <summary>Waits for a slot under the concurrency cap; dispose the lease when the call (body included) is done.</summary>
    public async ValueTask<IDisposable> AcquireAsync(CancellationToken ct)
    {
        if (_limit is null)
        {
            return NoLease.Instance;
        }

        await _limit.WaitAsync(ct);
        return new Lease(_limit);
    }

    public HttpRequestMessage Request(HttpMethod method, string pathAndQuery)
    {
        var uri = BaseAddress ?? throw new InvalidOperationException("the sidecar was started without --app-port");
        // Event delivery posts to the same few routes over and over: build each address once.
        if (!_routes.TryGetValue(pathAndQuery, out var target))
        {
            target = new Uri(uri, pathAndQuery.StartsWith('/') ? pathAndQuery : "/" + pathAndQuery);
            if (_routes.Count < MaxCachedRoutes)
            {
                _routes.TryAdd(pathAndQuery, target);
            }
        }

        var request = new HttpRequestMessage(method, target);
        UseVersion(request);
        if (AppApiToken is not null)
        {
            request.Headers.TryAddWithoutValidation("dapr-api-token", AppApiToken);
        }

        return request;
    }

    /// <summary>With <c>--app-protocol h2c</c>, HTTP/2 without TLS (prior knowledge); else what the request asks.</summary>
    public void UseVersion(HttpRequestMessage request)
    {
        if (Protocol == AppProtocol.H2c)
        {
            request.Version = HttpVersion.Version20;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        _limit?.Dispose();
    }

    private sealed class Lease(SemaphoreSlim limit) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                limit.Release();
            }
        }
    }

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }
}
