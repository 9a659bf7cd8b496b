using Grpc.Core;
using Microsoft.Extensions.Logging;
using Platform.Sidecar.Api;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Bindings;

/// <summary>
/// The bindings building block: one implementation of the output operation for both APIs (dapr/dapr
/// <c>pkg/runtime/processor/binding/send.go</c> <c>SendToOutputBinding</c>), and the delivery of input events to
/// the app (<c>startInputBinding</c>, <c>isAppSubscribedToBinding</c>, <c>sendBindingEventToApp</c>).
/// </summary>
/// <remarks>
/// Input events reach an HTTP app as <c>POST /{route}</c> (after the <c>OPTIONS</c> probe); a gRPC app is asked once
/// which bindings it takes (<c>ListInputBindings</c>) and gets each event through <c>OnBindingEvent</c>, as daprd's
/// binding processor does for each channel.
/// </remarks>
public sealed class BindingsService(Components components, AppChannel app, IAppChannel channel, ILogger logger)
{
    /// <summary>daprd's <c>DefaultAppBindingOptionsTimeout</c> (pkg/config/app_connection.go) for the OPTIONS probe.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Invokes an output binding. Every failure is <c>ERR_INVOKE_OUTPUT_BINDING</c> (500 / <c>Internal</c>) with
    /// daprd's message: no operation, no such output binding, an operation the binding does not list, or the
    /// component's own error. The binding is not called for the first three, so nothing is written.
    /// </summary>
    public async Task<BindingResponse?> InvokeAsync(string name, BindingRequest request, CancellationToken ct)
    {
        if (request.Operation.Length == 0)
        {
            throw Error(name, "operation field is missing from request");
        }

        if (!components.TryGetOutputBinding(name, out var binding))
        {
            throw Error(name, $"couldn't find output binding {name}");
        }

        if (!binding.Operations.Contains(request.Operation, StringComparer.Ordinal))
        {
            throw Error(name, $"binding {name} does not support operation {request.Operation}. supported operations:{string.Join(" ", binding.Operations)}");
        }

        try
        {
            return await binding.InvokeAsync(request, ct);
        }
        catch (BindingException e)
        {
            throw Error(name, e.Message);
        }
    }

    /// <summary>predefined.go <c>ErrInvokeOutputBinding</c>, as grpc.go's InvokeBinding builds it (ErrorInfo reason = the code).</summary>
    private static DaprError Error(string name, string detail) =>
        new("ERR_INVOKE_OUTPUT_BINDING", $"error invoking output binding {name}: {detail}", 500, StatusCode.Internal, "ERR_INVOKE_OUTPUT_BINDING");

    /// <summary>
    /// Starts every input binding the app takes, once the app is reachable (daprd's <c>StartReadingFromBindings</c>).
    /// A binding whose <c>direction</c> names <c>input</c> is always delivered; otherwise the app is asked first with
    /// <c>OPTIONS /{route}</c>, and only a 2xx or 405 answer means it listens there.
    /// </summary>
    public async Task StartInputAsync(CancellationToken ct)
    {
        if (app.Protocol == AppProtocol.Grpc)
        {
            await StartGrpcInputAsync(ct);
            return;
        }

        foreach (var (c, binding) in components.InputBindings)
        {
            var route = BindingMetadata.Route(c);
            bool subscribed;
            try
            {
                subscribed = BindingMetadata.IsExplicitly(c, "input") || await IsAppSubscribedAsync(route, ct);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                logger.LogError("Input binding {Binding}: could not invoke OPTIONS method on input binding subscription endpoint \"{Route}\": {Error}", c.Name, route, e.Message);
                continue;
            }

            if (!subscribed)
            {
                logger.LogInformation("app has not subscribed to binding {Binding}.", c.Name);
                continue;
            }

            var name = c.Name;
            binding.Start((e, token) => DeliverAsync(name, route, e, token));
        }
    }

    private async Task StartGrpcInputAsync(CancellationToken ct)
    {
        if (!components.InputBindings.Any())
        {
            return;
        }

        IReadOnlyList<string> wanted;
        try
        {
            wanted = await channel.ListInputBindingsAsync(ct) ?? [];
        }
        catch (Exception e) when (e is RpcException or AppCallException && !ct.IsCancellationRequested)
        {
            logger.LogError("Input bindings: ListInputBindings failed: {Error}", e.Message);
            return;
        }

        foreach (var (c, binding) in components.InputBindings)
        {
            if (!wanted.Contains(c.Name, StringComparer.Ordinal) && !BindingMetadata.IsExplicitly(c, "input"))
            {
                logger.LogInformation("app has not subscribed to binding {Binding}.", c.Name);
                continue;
            }

            var name = c.Name;
            binding.Start(async (e, token) =>
            {
                var request = new Dapr.AppCallback.Autogen.Grpc.v1.BindingEventRequest { Name = name, Data = Google.Protobuf.ByteString.CopyFrom(e.Data) };
                foreach (var (k, v) in e.Metadata)
                {
                    request.Metadata[k] = v;
                }

                try
                {
                    await channel.DeliverBindingEventAsync(request, token);
                }
                catch (AppCallException ex)
                {
                    logger.LogWarning("Input binding {Binding}: error from app consumer: {Error}", name, ex.Message);
                }
            });
        }
    }

    private async Task<bool> IsAppSubscribedAsync(string route, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        using var lease = await app.AcquireAsync(timeout.Token);
        using var request = app.Request(HttpMethod.Options, route);
        request.Content = new ByteArrayContent([]);
        request.Content.Headers.ContentType = new("application/json");
        using var response = await app.Client.SendAsync(request, timeout.Token);
        var code = (int)response.StatusCode;
        return code / 100 == 2 || code == 405;
    }

    private async Task DeliverAsync(string bindingName, string route, BindingEvent e, CancellationToken ct)
    {
        try
        {
            await SendToAppAsync(bindingName, route, e, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or BindingException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            logger.LogWarning("Input binding {Binding}: error from app consumer: {Error}", bindingName, ex.Message);
        }
    }

    /// <summary>
    /// Delivers one input event to the app and returns its answer; throws <see cref="BindingException"/> when the
    /// app does not take it. Over the HTTP app channel (send.go, HTTP branch): <c>POST /{route}</c>, the event's
    /// data as the body, <c>Content-Type: application/json</c>, each metadata entry as a header; a non-2xx answer
    /// fails. This is the one place an input event reaches the app: a gRPC app channel plugs in here
    /// (<c>AppCallback/OnBindingEvent</c> with name, data and metadata).
    /// </summary>
    internal async Task<byte[]> SendToAppAsync(string bindingName, string route, BindingEvent e, CancellationToken ct)
    {
        using var lease = await app.AcquireAsync(ct);
        using var request = app.Request(HttpMethod.Post, route);
        request.Content = new ByteArrayContent(e.Data);
        request.Content.Headers.ContentType = new("application/json");
        foreach (var (k, v) in e.Metadata)
        {
            request.Headers.TryAddWithoutValidation(k, v);
        }

        using var response = await app.Client.SendAsync(request, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        var code = (int)response.StatusCode;
        if (code is < 200 or > 299)
        {
            throw new BindingException($"fails to send binding event to http app channel, status code: {code} body: {System.Text.Encoding.UTF8.GetString(body)}");
        }

        return body;
    }
}
