namespace Platform.Ledger;

/// <summary>The names this service shares with the rest of the platform: its app-id, the components, the topic.</summary>
public static class LedgerNames
{
    public const string Service = "ledger";
    public const string PubSub = "pubsub";
    public const string Topic = "ledger";
    public const string AccountActor = "AccountActor";
    public const string TransferActor = "TransferActor";
    public const string DirectoryActor = "AccountDirectoryActor";
}
