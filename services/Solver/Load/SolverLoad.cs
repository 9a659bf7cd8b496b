using System.Runtime.CompilerServices;

namespace Platform.Solver.Load;

/// <summary>What this replica is doing: moves made (updated during searches), searches in flight, the most ever at once.</summary>
public sealed class SolverLoad
{
    private int _inFlight;
    private int _maxInFlight;
    private long _searches;

    public StrongBox<long> Moves { get; } = new();

    public long MovesMade => Interlocked.Read(ref Moves.Value);

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most sub-searches this replica ever ran at the same time (what <c>app-max-concurrency</c> bounds).</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public long Searches => Interlocked.Read(ref _searches);

    public IDisposable Enter()
    {
        var now = Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _searches);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }

        return new Exit(this);
    }

    private sealed class Exit(SolverLoad load) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                Interlocked.Decrement(ref load._inFlight);
            }
        }
    }
}
