namespace Platform.Live;

/// <summary>The names this service knows of the outside world: Dapr components, topics and app-ids, nothing else.</summary>
public static class Components
{
    public const string PubSub = "pubsub";
    public const string StateStore = "statestore";

    /// <summary>
    /// The pub/sub component the deltas travel on: the same broker as <see cref="PubSub"/>, but with a per-replica
    /// <c>consumerID</c> (<c>{uuid}</c> or <c>{podName}</c>), so every follower receives every delta.
    /// </summary>
    public const string ViewsPubSub = "views-broadcast";

    public const string LedgerTopic = "ledger";
    public const string AlertsTopic = "alerts";
    public const string RoutesTopic = "routes";
    public const string SolverLoadTopic = "solver-load";
    public const string ViewsTopic = "views";

    public const string LeaderAppId = "live-leader";
    public const string LedgerAppId = "ledger";
    public const string RoutingAppId = "routing";

    /// <summary>The leader's views in the state store, so a restarted leader continues where it was.</summary>
    public const string LeaderStateKey = "views";
}
