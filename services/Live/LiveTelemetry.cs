namespace Platform.Live;

public static class LiveTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string ServiceName = "Platform.Live";
}
