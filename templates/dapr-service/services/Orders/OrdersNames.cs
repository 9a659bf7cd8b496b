namespace Platform.Orders;

/// <summary>The names this service shares with the rest of the platform: its app-id, the components, its topic.</summary>
public static class OrdersNames
{
    public const string AppId = "orders";
    public const string StateStore = "statestore";
    public const string PubSub = "pubsub";
    public const string Topic = "orders";
}
