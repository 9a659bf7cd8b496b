namespace Platform.Sidecar.Actors;

/// <summary>An actor this sidecar has activated: its turn lock, when it was last used, and its timers.</summary>
internal sealed class ActiveActor(string type, string id, DateTimeOffset now)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ActorTimer> _timers = new(StringComparer.Ordinal);
    private long _lastUsedTicks = now.UtcTicks;
    private volatile bool _deactivated;

    public string Type { get; } = type;

    public string Id { get; } = id;

    public string Key { get; } = ActorService.Key(type, id);

    public ActorTurnLock Lock { get; } = new();

    public DateTimeOffset LastUsed => new(Interlocked.Read(ref _lastUsedTicks), TimeSpan.Zero);

    /// <summary>Set (while holding the turn) once the app was told to deactivate it; callers queued behind that start over.</summary>
    public bool Deactivated => _deactivated;

    public void Touch(DateTimeOffset at) => Interlocked.Exchange(ref _lastUsedTicks, at.UtcTicks);

    public void MarkDeactivated()
    {
        _deactivated = true;
        lock (_gate)
        {
            foreach (var timer in _timers.Values)
            {
                timer.Stop();
            }

            _timers.Clear();
        }
    }

    /// <summary>Adds or replaces the timer of that name; false when the actor was deactivated meanwhile.</summary>
    public bool SetTimer(ActorTimer timer)
    {
        lock (_gate)
        {
            if (_deactivated)
            {
                return false;
            }

            if (_timers.Remove(timer.Name, out var old))
            {
                old.Stop();
            }

            _timers[timer.Name] = timer;
            return true;
        }
    }

    /// <summary>Removes the timer of that name (only <paramref name="only"/>, when given, so a finished timer does not remove its replacement).</summary>
    public bool RemoveTimer(string name, ActorTimer? only = null)
    {
        lock (_gate)
        {
            if (!_timers.TryGetValue(name, out var timer) || (only is not null && !ReferenceEquals(only, timer)))
            {
                return false;
            }

            _timers.Remove(name);
            timer.Stop();
            return true;
        }
    }

    public int TimerCount
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }
}

/// <summary>An in-memory actor timer, with the strings it was registered with (echoed back to the app verbatim).</summary>
internal sealed class ActorTimer(string name, string callback, string dueTime, string period, string? ttl, string? dataJson, ActorSchedule schedule)
{
    private readonly CancellationTokenSource _stop = new();

    public string Name { get; } = name;

    public string Callback { get; } = callback;

    public string DueTime { get; } = dueTime;

    public string Period { get; } = period;

    public string? Ttl { get; } = ttl;

    /// <summary>The <c>data</c> value as registered (raw JSON), or null.</summary>
    public string? DataJson { get; } = dataJson;

    public ActorSchedule Schedule { get; } = schedule;

    public CancellationToken Stopping => _stop.Token;

    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
