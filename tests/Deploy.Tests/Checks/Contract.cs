namespace Platform.Deploy.Tests.Checks;

/// <summary>
/// The platform's fixed names (the contract every service was written against), which the manifests must agree with.
/// </summary>
public static class Contract
{
    public static readonly string[] AppIds = ["ledger", "balances", "fraud", "hello", "solver", "routing", "live-leader", "live"];

    /// <summary>
    /// Apps that deploy/ already runs but tye.yaml and dapr.yaml do not list yet (their services are being written
    /// on other branches). Whoever adds an app to tye.yaml removes it here; the consistency test fails until then,
    /// and once this set is empty every app must agree both ways.
    /// </summary>
    public static readonly HashSet<string> NotYetInTye = [];

    public static readonly string[] ComponentNames = ["pubsub", "statestore", "views-broadcast"];

    /// <summary>
    /// The one component whose consumer id is per replica (a broadcast: every Live follower gets every delta on
    /// `views`); everything else keeps the app-id as its consumer group.
    /// </summary>
    public const string BroadcastComponent = "views-broadcast";

    /// <summary>
    /// Every topic, by component: the one app that publishes it (its owner) and the apps that subscribe it. Every
    /// pub/sub component protects exactly its topics and grants each to these apps only (TopicOwnershipTests); a
    /// topic a service names in its code must be listed here.
    /// </summary>
    public static readonly Dictionary<(string Component, string Topic), (string Owner, string[] Subscribers)> Topics = new()
    {
        [("pubsub", "ledger")] = ("ledger", ["balances", "fraud", "live-leader"]),
        [("pubsub", "alerts")] = ("fraud", ["live-leader"]),
        [("pubsub", "routes")] = ("routing", ["live-leader"]),
        [("pubsub", "solver-load")] = ("solver", ["live-leader"]),
        [("views-broadcast", "views")] = ("live-leader", ["live"]),
    };

    /// <summary>Who invokes whom through the sidecars (callee → callers): the access control and NetworkPolicies.</summary>
    public static readonly Dictionary<string, string[]> Invocations = new()
    {
        ["ledger"] = ["balances", "live"],
        ["routing"] = ["live"],
        ["solver"] = ["routing"],
        ["live-leader"] = ["live"],
    };

    /// <summary>Apps hosting actors: their sidecars call each other (placement routes an actor to one replica).</summary>
    public static readonly HashSet<string> ActorHosts = ["ledger"];

    /// <summary>The consumers KEDA scales on lag, the topic they read, and where their code names it.</summary>
    public static readonly Dictionary<string, (string Topic, string Source)> ScaledConsumers = new()
    {
        ["balances"] = ("ledger", "services/Balances/Components.cs"),
        ["fraud"] = ("ledger", "services/fraud/src/names.ts"),
    };

    /// <summary>The pub/sub component type each broker overlay must use (and components/&lt;broker&gt; does).</summary>
    public static readonly Dictionary<string, string> PubSubTypes = new()
    {
        ["redis"] = "pubsub.redis",
        ["kafka"] = "pubsub.kafka",
        ["pulsar"] = "pubsub.pulsar",
    };

    /// <summary>Apps with a concurrency cap on their sidecar (one CPU-bound search per core).</summary>
    public static readonly HashSet<string> MaxConcurrencyApps = ["solver"];
}
