namespace Platform.Routing;

/// <summary>The names this service shares with the rest of the platform.</summary>
public static class RoutingNames
{
    public const string Service = "routing";
    public const string Solver = "solver";
    public const string SolverMethod = "search";
    public const string PubSub = "pubsub";
    public const string RoutesTopic = "routes";
    public const string JobActor = "JobActor";
}
