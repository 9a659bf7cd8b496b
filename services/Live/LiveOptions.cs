namespace Platform.Live;

public enum LiveRole
{
    Follower,
    Leader,
}

/// <summary>The <c>Live</c> configuration section (<c>Live__Role=leader</c> in the environment).</summary>
public sealed class LiveOptions
{
    public LiveRole Role { get; set; } = LiveRole.Follower;

    /// <summary>How long a follower waits for a missing delta (they can arrive out of order) before it resyncs.</summary>
    public TimeSpan GapTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many recent deltas a follower keeps to replay to a client reconnecting with <c>Last-Event-ID</c>.</summary>
    public int ReplayWindow { get; set; } = 4096;

    /// <summary>How often the leader saves its views to the state store (when they changed).</summary>
    public TimeSpan SaveInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Test hook: a follower drops the delta with this sequence number as if the broker lost it.</summary>
    public long? DropSequence { get; set; }
}
