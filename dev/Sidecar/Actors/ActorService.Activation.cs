using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Actors;

/// <summary>The actor runtime, activation and calls: the actor table, turns, calls into the app and forwarding to the owner.</summary>
public sealed partial class ActorService
{
    /// <summary>Calls actor method <paramref name="method"/> in this sidecar's app, in the actor's turn.</summary>
    internal async Task<ActorResponse> InvokeLocalAsync(string type, string id, string method, byte[] body,
        IEnumerable<KeyValuePair<string, string[]>> headers, string? reentrancyId, CancellationToken ct)
    {
        var config = _config.Types.TryGetValue(type, out var c) ? c : throw ActorErrors.NoAddress(type, id);
        var reentrancy = config.Reentrancy ? (string.IsNullOrEmpty(reentrancyId) ? Guid.NewGuid().ToString() : reentrancyId) : null;
        var path = $"/actors/{Escape(type)}/{Escape(id)}/method/{string.Join('/', method.Split('/').Select(Escape))}";
        return await WithTurnAsync(type, id, reentrancy, config.MaxStackDepth,
            _ => CallAppAsync(HttpMethod.Put, path, body, headers, reentrancy, ct), ct);
    }

    private async Task<bool> FireReminderAsync(string type, ReminderRecord r, CancellationToken ct)
    {
        if (!_config.Types.TryGetValue(type, out var config))
        {
            return false;
        }

        var body = CallbackBody(null, r.DueTime, r.Period, r.Data?.GetRawText());
        var reentrancy = config.Reentrancy ? Guid.NewGuid().ToString() : null;
        var response = await WithTurnAsync(type, r.ActorId, reentrancy, config.MaxStackDepth,
            _ => CallAppAsync(HttpMethod.Put, $"/actors/{Escape(type)}/{Escape(r.ActorId)}/method/remind/{Escape(r.Name)}", body, JsonContent, reentrancy, ct), ct);
        if (response.Status is < 200 or > 299)
        {
            _logger.LogWarning("Reminder {Name} of actor {Type}/{Id}: the app answered {Status}", r.Name, type, r.ActorId, response.Status);
        }

        return response.CancelRequested;
    }

    /// <summary>Runs <paramref name="work"/> in the actor's turn, activating the actor here if needed.</summary>
    private async Task<T> WithTurnAsync<T>(string type, string id, string? reentrancyId, int maxDepth, Func<ActiveActor, Task<T>> work, CancellationToken ct)
    {
        while (true)
        {
            var actor = _active.GetOrAdd(Key(type, id), _ => new ActiveActor(type, id, _time.GetUtcNow()));
            using var turn = await actor.Lock.EnterAsync(reentrancyId, maxDepth, ct);
            if (actor.Deactivated)
            {
                // Deactivated while we waited: start over with a fresh activation.
                continue;
            }

            actor.Touch(_time.GetUtcNow());
            try
            {
                return await work(actor);
            }
            finally
            {
                actor.Touch(_time.GetUtcNow());
            }
        }
    }

    private static readonly KeyValuePair<string, string[]>[] JsonContent = [new("Content-Type", ["application/json"])];

    private async Task<ActorResponse> CallAppAsync(HttpMethod verb, string path, byte[]? body,
        IEnumerable<KeyValuePair<string, string[]>>? headers, string? reentrancyId, CancellationToken ct)
    {
        using var lease = await _app.AcquireAsync(ct);
        using var request = _app.Request(verb, path);
        request.Version = HttpVersion.Version11;
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var (name, values) in headers ?? [])
        {
            if (NotForwarded.Contains(name) || name.Equals(ReentrancyHeader, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        if (reentrancyId is not null)
        {
            request.Headers.TryAddWithoutValidation(ReentrancyHeader, reentrancyId);
        }

        try
        {
            using var response = await _app.Client.SendAsync(request, ct);
            var bytes = await response.Content.ReadAsByteArrayAsync(ct);
            return new ActorResponse((int)response.StatusCode, Headers(response), bytes);
        }
        catch (HttpRequestException e)
        {
            throw ActorErrors.InvokeMethod($"the app did not answer {verb} {path}: {e.Message}");
        }
    }

    /// <summary>Sends an actor API call to the sidecar that owns the actor; connection failures surface as <see cref="HttpRequestException"/>.</summary>
    internal async Task<ActorResponse> ForwardAsync(Replica owner, string method, string pathAndQuery, byte[] body,
        IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(owner.HttpEndpoint + pathAndQuery)) { Version = HttpVersion.Version11 };
        if (body.Length > 0 || method is not ("GET" or "DELETE" or "HEAD"))
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var (name, values) in headers)
        {
            if (NotForwarded.Contains(name) && !name.Equals("dapr-api-token", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, values))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        request.Headers.TryAddWithoutValidation(ForwardedHeader, _appId);
        using var response = await _peers.SendAsync(request, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        return new ActorResponse((int)response.StatusCode, Headers(response), bytes);
    }

    private static List<KeyValuePair<string, string[]>> Headers(HttpResponseMessage response) =>
        [.. Invoker.ResponseHeaders(response)
            .Where(h => !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(h => new KeyValuePair<string, string[]>(h.Key, [.. h.Value]))];
}
