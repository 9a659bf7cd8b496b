namespace Platform.Balances;

/// <summary>The names this service knows of the outside world: Dapr components, topics and app-ids, nothing else.</summary>
public static class Components
{
    public const string PubSub = "pubsub";
    public const string StateStore = "statestore";
    public const string LedgerTopic = "ledger";
    public const string LedgerAppId = "ledger";
}
