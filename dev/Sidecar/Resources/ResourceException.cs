namespace Platform.Sidecar.Resources;

/// <summary>
/// A resource file (Component, Subscription, Resiliency, Configuration) that the sidecar cannot use.
/// The message names the file and the field so that start-up failures point straight at the fix.
/// </summary>
public sealed class ResourceException(string file, string field, string problem)
    : Exception($"{file}: {field}: {problem}")
{
    /// <summary>The file that holds the bad resource.</summary>
    public string File { get; } = file;

    /// <summary>The field (a YAML path such as <c>spec.metadata[redisHost]</c>) that is wrong.</summary>
    public string Field { get; } = field;
}
