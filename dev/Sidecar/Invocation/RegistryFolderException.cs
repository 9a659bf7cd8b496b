namespace Platform.Sidecar.Invocation;

/// <summary>The name-registry folder cannot be used safely; the message names the folder and what to do.</summary>
public sealed class RegistryFolderException(string message) : Exception(message);
