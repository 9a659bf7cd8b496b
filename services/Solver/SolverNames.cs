namespace Platform.Solver;

/// <summary>The names this service shares with the rest of the platform.</summary>
public static class SolverNames
{
    public const string Service = "solver";
    public const string PubSub = "pubsub";
    public const string LoadTopic = "solver-load";
}
