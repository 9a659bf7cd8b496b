namespace Platform.Balances;

/// <summary>The service's logs, source-generated: no boxing, no string building when the level is off.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Dropped a ledger event that names no account or sequence: {Event}")]
    public static partial void Malformed(ILogger logger, string @event);

    [LoggerMessage(2, LogLevel.Information, "Account {AccountId}: sequences {From}..{To} missing in generation {Generation}; fetching them from the ledger")]
    public static partial void Gap(ILogger logger, string accountId, long from, long to, int generation);

    [LoggerMessage(3, LogLevel.Warning, "Account {AccountId}: the ledger does not have sequence {Sequence} yet (it has up to {LedgerLast}); RETRY")]
    public static partial void LedgerBehind(ILogger logger, string accountId, long sequence, long ledgerLast);

    [LoggerMessage(4, LogLevel.Warning, "Account {AccountId} sequence {Sequence}: the ledger could not be reached, RETRY: {Error}")]
    public static partial void LedgerUnavailable(ILogger logger, string accountId, long sequence, string error);

    [LoggerMessage(5, LogLevel.Warning, "Account {AccountId} sequence {Sequence}: the state store failed, RETRY: {Error}")]
    public static partial void StoreFailed(ILogger logger, string accountId, long sequence, string error);

    [LoggerMessage(8, LogLevel.Warning, "A bulk delivery of {Count} events: the state store failed, RETRY for all: {Error}")]
    public static partial void BulkStoreFailed(ILogger logger, int count, string error);

    [LoggerMessage(6, LogLevel.Warning, "Account {AccountId}: gave up after {Conflicts} ETag conflicts in a row, RETRY")]
    public static partial void GaveUp(ILogger logger, string accountId, int conflicts);

    [LoggerMessage(7, LogLevel.Warning, "Account {AccountId} sequence {Sequence}: kind {Kind} does not move money here (unknown, or no positive amount); sequence taken, balance unchanged")]
    public static partial void Ignored(ILogger logger, string accountId, long sequence, string kind);

    [LoggerMessage(10, LogLevel.Information, "Rebuild into generation {Generation} started (live generation {Live})")]
    public static partial void RebuildStarted(ILogger logger, int generation, int live);

    [LoggerMessage(11, LogLevel.Information, "Rebuild done: generation {Generation} is live ({Accounts} accounts, {Events} events)")]
    public static partial void RebuildDone(ILogger logger, int generation, int accounts, long events);

    [LoggerMessage(12, LogLevel.Error, "Rebuild into generation {Generation} failed; generation {Live} stays live: {Error}")]
    public static partial void RebuildFailed(ILogger logger, int generation, int live, string error);

    [LoggerMessage(13, LogLevel.Warning, "Could not delete generation {Generation}; its keys stay behind unread: {Error}")]
    public static partial void CleanupFailed(ILogger logger, int generation, string error);
}
