using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Bindings;

/// <summary>A request to an output binding (components-contrib <c>bindings.InvokeRequest</c>).</summary>
public sealed record BindingRequest(string Operation, byte[] Data, IReadOnlyDictionary<string, string> Metadata);

/// <summary>An output binding's answer (contrib <c>bindings.InvokeResponse</c>); a binding that answers nothing returns null.</summary>
public sealed record BindingResponse(byte[] Data, IReadOnlyDictionary<string, string> Metadata);

/// <summary>An event an input binding read, for the app (contrib <c>bindings.ReadResponse</c>).</summary>
public sealed record BindingEvent(byte[] Data, IReadOnlyDictionary<string, string> Metadata);

/// <summary>An output binding component (contrib <c>bindings.OutputBinding</c>).</summary>
public interface IOutputBinding : IAsyncDisposable
{
    /// <summary>The operations it supports, in the order contrib's <c>Operations()</c> lists them.</summary>
    IReadOnlyList<string> Operations { get; }

    /// <summary>Does one operation; throws <see cref="BindingException"/> with the component's own message when it fails.</summary>
    Task<BindingResponse?> InvokeAsync(BindingRequest request, CancellationToken ct);
}

/// <summary>An input binding component (contrib <c>bindings.InputBinding</c>): reads events and hands each to the handler.</summary>
public interface IInputBinding : IAsyncDisposable
{
    /// <summary>Starts reading; every event goes to <paramref name="handler"/> until the binding is disposed.</summary>
    void Start(Func<BindingEvent, CancellationToken, Task> handler);
}

/// <summary>A binding operation failed; the message is the component's (daprd wraps it in <c>ERR_INVOKE_OUTPUT_BINDING</c>).</summary>
public sealed class BindingException(string message) : Exception(message);

/// <summary>The <c>direction</c> and <c>route</c> metadata daprd reads for every binding (dapr/dapr pkg/runtime/processor/binding/binding.go).</summary>
internal static class BindingMetadata
{
    /// <summary>
    /// <c>isBindingOfDirection</c>: without a <c>direction</c> every direction the type has is used; with one
    /// (a comma-separated list of <c>input</c>/<c>output</c>, any case) only those listed.
    /// </summary>
    public static bool IsOfDirection(ComponentResource c, string direction) =>
        !c.Metadata.TryGetValue("direction", out var value)
        || value.Split(',').Any(d => d.Trim().Equals(direction, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// <c>isBindingOfExplicitDirection</c>: the component names the direction itself, so daprd does not ask the
    /// app (no <c>OPTIONS</c> probe) before it delivers input events.
    /// </summary>
    public static bool IsExplicitly(ComponentResource c, string direction) =>
        c.Metadata.TryGetValue("direction", out var value)
        && value.Split(',').Any(d => d.Trim().Equals(direction, StringComparison.OrdinalIgnoreCase));

    /// <summary>The app path input events go to: the <c>route</c> metadata, else the component's name.</summary>
    public static string Route(ComponentResource c) => c.Get("route") ?? c.Name;
}
