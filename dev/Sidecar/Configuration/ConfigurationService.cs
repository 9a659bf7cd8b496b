using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Configuration;

/// <summary>
/// The configuration API's operations, shared by HTTP and gRPC: find the store as daprd does, get, subscribe
/// (for a gRPC stream, or for the app over its HTTP channel as daprd's HTTP API does), unsubscribe, with daprd's
/// errors (dapr/dapr <c>pkg/api/http/http.go</c> <c>onGetConfiguration</c>/<c>onSubscribeConfiguration</c>/
/// <c>onUnsubscribeConfiguration</c>, <c>pkg/api/grpc/grpc.go</c> <c>GetConfiguration</c>/<c>SubscribeConfiguration</c>).
/// </summary>
public sealed class ConfigurationService(Components components, AppChannel app)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Open gRPC subscription streams by id, each with what ends it (daprd's compstore configuration subscribes).</summary>
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _streams = new(StringComparer.Ordinal);

    public IConfigurationStore Store(string name)
    {
        if (components.ConfigurationStores.Count == 0)
        {
            throw ConfigurationErrors.NotConfigured();
        }

        return components.ConfigurationStores.TryGetValue(name, out var found) ? found.Store : throw ConfigurationErrors.NotFound(name);
    }

    public async Task<IReadOnlyDictionary<string, ConfigurationItem>> GetAsync(string storeName, IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        var store = Store(storeName);
        try
        {
            return await store.GetAsync(keys, metadata, ct);
        }
        catch (Exception e) when (e is not (DaprError or OperationCanceledException))
        {
            throw ConfigurationErrors.GetFailed(keys, storeName, e.Message);
        }
    }

    /// <summary>Subscribes with <paramref name="handler"/> and returns the subscription id.</summary>
    public async Task<string> SubscribeAsync(string storeName, IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, Func<ConfigurationUpdate, Task> handler, CancellationToken ct)
    {
        var store = Store(storeName);
        try
        {
            return await store.SubscribeAsync(keys, metadata, handler, ct);
        }
        catch (Exception e) when (e is not (DaprError or OperationCanceledException))
        {
            throw ConfigurationErrors.SubscribeFailed(keys, storeName, e.Message);
        }
    }

    /// <summary>
    /// daprd's HTTP subscribe: updates go to the app, <c>POST /configuration/{store}/{key}</c> once per key of an
    /// update, the body being the whole update (<c>{"id","items"}</c>); an answer other than 200 is logged.
    /// </summary>
    public async Task<string> SubscribeAppAsync(string storeName, IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> metadata, ILogger logger, CancellationToken ct)
    {
        Store(storeName);
        if (app.BaseAddress is null)
        {
            throw new DaprError("ERR_APP_CHANNEL_NIL", "app channel is not initialized. cannot subscribe to configuration updates", 500, StatusCode.Internal);
        }

        return await SubscribeAsync(storeName, keys, metadata, update => DeliverAsync(storeName, update, logger), ct);
    }

    private async Task DeliverAsync(string storeName, ConfigurationUpdate update, ILogger logger)
    {
        var body = ConfigurationJson.Update(update);
        foreach (var key in update.Items.Keys)
        {
            try
            {
                using var timeout = new CancellationTokenSource(DeliveryTimeout);
                using var lease = await app.AcquireAsync(timeout.Token);
                using var request = app.Request(HttpMethod.Post, $"/configuration/{storeName}/{key}");
                request.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
                using var response = await app.Client.SendAsync(request, timeout.Token);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    logger.LogError("error sending configuration item to application, status {Status} (store {Store}, key {Key})", (int)response.StatusCode, storeName, key);
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                logger.LogError("error sending configuration item to the app: {Error} (store {Store}, key {Key})", e.Message, storeName, key);
            }
        }
    }

    /// <summary>
    /// daprd's HTTP unsubscribe: the store drops the subscription (any of its ids, a gRPC stream's too). False with
    /// daprd's message when the store has no such id.
    /// </summary>
    public async Task<(bool Ok, string? Message)> UnsubscribeAsync(string storeName, string id, CancellationToken ct)
    {
        var store = Store(storeName);
        try
        {
            await store.UnsubscribeAsync(id, ct);
            return (true, null);
        }
        catch (Exception e) when (e is not (DaprError or OperationCanceledException))
        {
            return (false, ConfigurationErrors.UnsubscribeMessage(id, e.Message));
        }
    }

    /// <summary>Records an open gRPC stream so that <see cref="StopStream"/> can end it; dispose to forget it.</summary>
    public IDisposable RegisterStream(string id, CancellationTokenSource stop)
    {
        _streams[id] = stop;
        return new Forget(() => _streams.TryRemove(new KeyValuePair<string, CancellationTokenSource>(id, stop)));
    }

    /// <summary>daprd's gRPC <c>UnsubscribeConfiguration</c>: ends the stream of that id, whatever store is named.</summary>
    public (bool Ok, string? Message) StopStream(string id)
    {
        if (!_streams.TryRemove(id, out var stop))
        {
            return (false, ConfigurationErrors.UnsubscribeMessage(id, "subscription does not exist"));
        }

        try
        {
            stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the stream ended by itself at this very moment
        }

        return (true, null);
    }

    private sealed class Forget(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

/// <summary>daprd's configuration errors (<c>pkg/messages/predefined.go</c> messages, <c>errorcodes</c> codes; gRPC adds ErrorInfo with the code as reason).</summary>
internal static class ConfigurationErrors
{
    public static DaprError NotConfigured() =>
        new("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", "configuration stores not configured", 500, StatusCode.FailedPrecondition, "ERR_CONFIGURATION_STORE_NOT_CONFIGURED");

    public static DaprError NotFound(string store) =>
        new("ERR_CONFIGURATION_STORE_NOT_FOUND", $"configuration store {store} not found", 400, StatusCode.InvalidArgument, "ERR_CONFIGURATION_STORE_NOT_FOUND");

    public static DaprError GetFailed(IReadOnlyList<string> keys, string store, string detail) =>
        new("ERR_CONFIGURATION_GET", $"failed to get {GoList(keys)} from Configuration store {store}: {detail}", 500, StatusCode.Internal, "ERR_CONFIGURATION_GET");

    public static DaprError SubscribeFailed(IReadOnlyList<string> keys, string store, string detail) =>
        new("ERR_CONFIGURATION_SUBSCRIBE", $"failed to subscribe {GoList(keys)} from Configuration store {store}: {detail}", 500, StatusCode.InvalidArgument, "ERR_CONFIGURATION_SUBSCRIBE");

    public static string UnsubscribeMessage(string id, string detail) => $"failed to unsubscribe to configuration request {id}: {detail}";

    /// <summary>A string slice as Go's <c>%v</c> prints it: <c>[a b]</c>.</summary>
    private static string GoList(IReadOnlyList<string> keys) => $"[{string.Join(' ', keys)}]";
}

/// <summary>Items and updates as daprd's HTTP API writes them: Go's JSON of contrib's <c>Item</c> (<c>omitempty</c> on each field).</summary>
internal static class ConfigurationJson
{
    public static void WriteItems(Utf8JsonWriter w, IReadOnlyDictionary<string, ConfigurationItem> items)
    {
        w.WriteStartObject();
        foreach (var (key, item) in items.OrderBy(i => i.Key, StringComparer.Ordinal)) // Go sorts map keys
        {
            w.WriteStartObject(key);
            if (item.Value.Length > 0)
            {
                w.WriteString("value", item.Value);
            }

            if (item.Version.Length > 0)
            {
                w.WriteString("version", item.Version);
            }

            if (item.Metadata.Count > 0)
            {
                w.WriteStartObject("metadata");
                foreach (var (k, v) in item.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    /// <summary><c>{"id":..,"items":{..}}</c> and the newline Go's <c>json.Encoder</c> ends with.</summary>
    public static byte[] Update(ConfigurationUpdate update)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", update.Id);
            w.WritePropertyName("items");
            WriteItems(w, update.Items);
            w.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
