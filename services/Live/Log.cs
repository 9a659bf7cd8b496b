namespace Platform.Live;

/// <summary>The service's logs, source-generated.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Publishing delta {Seq} failed (attempt {Attempt}), retrying: {Error}")]
    public static partial void PublishFailed(ILogger logger, long seq, int attempt, string error);

    [LoggerMessage(2, LogLevel.Warning, "Dropped a message on {Topic} that cannot apply: {Error}")]
    public static partial void Malformed(ILogger logger, string topic, string error);

    [LoggerMessage(3, LogLevel.Information, "Continuing from saved views at sequence {Seq} as epoch {Epoch}")]
    public static partial void Restored(ILogger logger, long seq, string epoch);

    [LoggerMessage(4, LogLevel.Warning, "Saving the views failed: {Error}")]
    public static partial void SaveFailed(ILogger logger, string error);

    [LoggerMessage(10, LogLevel.Information, "Resynced from the leader's snapshot: epoch {Epoch} sequence {Seq} ({Reason})")]
    public static partial void Resynced(ILogger logger, string epoch, long seq, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Could not fetch the leader's snapshot: {Error}")]
    public static partial void SnapshotFailed(ILogger logger, string error);

    [LoggerMessage(12, LogLevel.Information, "Gap after sequence {Seq}: waiting for {Missing}, resyncing")]
    public static partial void Gap(ILogger logger, long seq, long missing);
}
