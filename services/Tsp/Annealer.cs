using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Platform.Tsp;

/// <summary>What one sub-search is asked to do.</summary>
/// <param name="Seed">the random stream: the same seed, start and move count give the same tour</param>
/// <param name="Budget">wall-clock limit</param>
/// <param name="MaxMoves">if set, the schedule advances by moves instead of time, which makes the run reproducible</param>
/// <param name="ScheduleFrom">where in the annealing schedule (0 = hot, 1 = cold) this sub-search starts…</param>
/// <param name="ScheduleTo">…and ends: a job splits one long schedule into rounds</param>
public sealed record SearchSettings(long Seed, TimeSpan Budget, long? MaxMoves = null, double ScheduleFrom = 0, double ScheduleTo = 1);

public sealed record SearchResult(int[] Tour, long Length, long Moves, long Accepted, TimeSpan Elapsed);

/// <summary>
/// Simulated annealing over 2-opt and Or-opt moves on an array tour. Each move is drawn from a city's nearest
/// neighbours and evaluated in O(1) from the four or six edges it changes; only accepted moves touch the array
/// (2-opt reverses the shorter side, Or-opt shifts the shorter stretch). Nothing is allocated per move.
/// The temperature falls geometrically from <see cref="HotFactor"/> to <see cref="ColdFactor"/> times the mean
/// nearest-neighbour distance, so the schedule fits any instance's scale, over the first <see cref="AnnealShare"/>
/// of the schedule; the rest of the schedule is an iterated local search from the best tour annealing found
/// (Lin–Kernighan-style 2-opt chains and Or-opt, double-bridge kicks). The old schedule (0.4 to 0.005 over the
/// whole schedule) froze after 40–60 % of a 5-s job and the gap stopped improving (issue 14).
/// </summary>
public sealed partial class Annealer
{
    /// <summary>Largest instance whose full distance matrix is kept (2,500² ints = 25 MB); above it, edges are computed.</summary>
    public const int MatrixLimit = 2500;

    /// <summary>The start temperature, in mean nearest-neighbour distances.</summary>
    public const double HotFactor = 1.0;

    /// <summary>The temperature at <see cref="AnnealShare"/> of the schedule, where annealing hands over.</summary>
    public const double ColdFactor = 0.03;

    /// <summary>
    /// The share of the schedule that anneals; the rest is the iterated local search (<see cref="Ils"/>), which goes on
    /// finding shorter tours where annealing at a frozen temperature had stopped. Tours under
    /// <see cref="IlsMinCities"/> cities anneal to the end.
    /// </summary>
    public const double AnnealShare = 0.5;

    public const int IlsMinCities = 8;

    private const int CheckEvery = 256;

    private readonly int _n;
    private readonly int _k;
    private readonly int[]? _matrix;
    private readonly int[] _neighbours;
    private readonly double[] _x;
    private readonly double[] _y;
    private readonly Metric _metric;

    /// <param name="instance">the cities</param>
    /// <param name="neighbours">how many nearest neighbours a move may connect a city to</param>
    public Annealer(Instance instance, int neighbours = 10)
    {
        Instance = instance;
        _n = instance.Count;
        _x = instance.X;
        _y = instance.Y;
        _metric = instance.Metric;
        _k = Math.Min(neighbours, _n - 1);
        if (_n <= MatrixLimit)
        {
            _matrix = new int[_n * _n];
            for (var a = 0; a < _n; a++)
            {
                for (var b = a + 1; b < _n; b++)
                {
                    _matrix[(a * _n) + b] = _matrix[(b * _n) + a] = instance.Distance(a, b);
                }
            }
        }

        // The k nearest of every city by insertion into a sorted k-buffer: O(n² k) but no n-sized sort per city.
        _neighbours = new int[_n * Math.Max(_k, 1)];
        var dist = new int[Math.Max(_k, 1)];
        double nearestSum = 0;
        for (var a = 0; a < _n; a++)
        {
            var row = a * _k;
            var filled = 0;
            for (var b = 0; b < _n; b++)
            {
                if (b == a)
                {
                    continue;
                }

                var d = D(a, b);
                if (filled == _k && d >= dist[_k - 1])
                {
                    continue;
                }

                var at = filled < _k ? filled++ : _k - 1;
                while (at > 0 && dist[at - 1] > d)
                {
                    dist[at] = dist[at - 1];
                    _neighbours[row + at] = _neighbours[row + at - 1];
                    at--;
                }

                dist[at] = d;
                _neighbours[row + at] = b;
            }

            nearestSum += _k > 0 ? dist[0] : 0;
        }

        NearestMean = Math.Max(nearestSum / _n, 1e-9);
    }

    public Instance Instance { get; }

    /// <summary>The mean distance from a city to its nearest neighbour: the temperature's unit.</summary>
    public double NearestMean { get; }

    /// <summary>Runs one sub-search from <paramref name="start"/> (not modified); returns the best tour it saw.</summary>
    /// <param name="moves">counts moves as they happen (read by the load report), or null</param>
    public SearchResult Run(ReadOnlySpan<int> start, SearchSettings settings, StrongBox<long>? moves = null, CancellationToken cancellationToken = default)
    {
        if (!Instance.IsTour(start))
        {
            throw new ArgumentException("the start is not a permutation of the cities", nameof(start));
        }

        var clock = Stopwatch.StartNew();
        var n = _n;
        var tour = start.ToArray();
        var pos = new int[n];
        for (var i = 0; i < n; i++)
        {
            pos[tour[i]] = i;
        }

        var length = Instance.Length(tour);
        var best = (int[])tour.Clone();
        var bestLength = length;
        if (n < 5)
        {
            return new SearchResult(Normalize(best), bestLength, 0, 0, clock.Elapsed);
        }

        var rng = new Rng(settings.Seed);
        var hot = HotFactor * NearestMean;
        var ratio = ColdFactor / HotFactor;
        var from = Math.Clamp(settings.ScheduleFrom, 0, 1);
        var span = Math.Clamp(settings.ScheduleTo, 0, 1) - from;
        var budgetTicks = (long)(settings.Budget.TotalSeconds * Stopwatch.Frequency);
        var startTicks = Stopwatch.GetTimestamp();
        var maxMoves = settings.MaxMoves ?? long.MaxValue;
        long count = 0, accepted = 0, reported = 0, nextCheck = 0;
        var temperature = hot;

        // Small tours anneal to the end; the others hand over to the iterated local search at AnnealShare.
        var annealEnd = n >= IlsMinCities ? AnnealShare : 1.0;
        var polish = false;
        Span<int> segment = stackalloc int[3];

        while (true)
        {
            if (count >= nextCheck)
            {
                var elapsed = Stopwatch.GetTimestamp() - startTicks;
                if (elapsed >= budgetTicks || count >= maxMoves || cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                var progress = settings.MaxMoves is { } m ? (double)count / m : (double)elapsed / budgetTicks;
                var at = from + (span * progress);
                if (at >= annealEnd)
                {
                    polish = true;
                    break;
                }

                temperature = hot * Math.Pow(ratio, at / annealEnd);
                if (moves is not null)
                {
                    Interlocked.Add(ref moves.Value, count - reported);
                    reported = count;
                }

                nextCheck = Math.Min(count + CheckEvery, maxMoves);
            }

            count++;
            var a = rng.Below(n);
            var i = pos[a];
            var r = rng.Next();
            var c = Partner(a, r, ref rng);
            var j = pos[c];
            int delta;
            if ((r & 1) == 0)
            {
                // 2-opt: drop (a, succ a) and (c, succ c), or the two predecessor edges; join a–c and the other two ends.
                if ((r & 2) == 0)
                {
                    var b = tour[Next(i)];
                    var d = tour[Next(j)];
                    if (b == c || d == a)
                    {
                        continue;
                    }

                    delta = D(a, c) + D(b, d) - D(a, b) - D(c, d);
                    if (delta > 0 && !Accept(delta, temperature, ref rng))
                    {
                        continue;
                    }

                    Reverse(tour, pos, Next(i), j);
                }
                else
                {
                    var b = tour[Prev(i)];
                    var d = tour[Prev(j)];
                    if (b == c || d == a)
                    {
                        continue;
                    }

                    delta = D(a, c) + D(b, d) - D(a, b) - D(c, d);
                    if (delta > 0 && !Accept(delta, temperature, ref rng))
                    {
                        continue;
                    }

                    Reverse(tour, pos, i, Prev(j));
                }
            }
            else
            {
                // Or-opt: take the segment of 1–3 cities starting at a out, and put it (either way round) into an
                // edge (c, e) where c is a near neighbour of one of its ends.
                var len = 1 + (int)((r >> 40) % 3);
                var last = Wrap(i + len - 1);
                var s1 = a;
                var s2 = tour[last];
                var p = tour[Prev(i)];
                var nx = tour[Next(last)];
                var xIsFirst = (r & 2) == 0;
                var x = xIsFirst ? s1 : s2;
                var y = xIsFirst ? s2 : s1;
                c = Partner(x, r, ref rng);
                j = pos[c];
                if (Wrap(j - i + n) < len)
                {
                    continue;
                }

                var eAfter = (r & 4) == 0;
                var ePos = eAfter ? Next(j) : Prev(j);
                if (Wrap(ePos - i + n) < len)
                {
                    continue;
                }

                var e = tour[ePos];
                delta = D(p, nx) - D(p, s1) - D(s2, nx) + D(c, x) + D(y, e) - D(c, e);
                if (delta > 0 && !Accept(delta, temperature, ref rng))
                {
                    continue;
                }

                // The gap is between positions g and g + 1; the city at g touches the segment's first city.
                var g = eAfter ? j : ePos;
                var first = tour[g] == c ? x : y;
                MoveSegment(tour, pos, segment, i, len, g, reversed: first != s1);
            }

            accepted++;
            length += delta;
            if (length < bestLength)
            {
                bestLength = length;
                Array.Copy(tour, best, n);
            }
        }

        if (polish)
        {
            var ils = new Ils(this, tour, pos, best, bestLength, rng);
            ils.Run(ref count, ref accepted, ref reported, maxMoves, startTicks, budgetTicks, moves, cancellationToken);
            bestLength = ils.BestLength;
        }

        if (moves is not null)
        {
            Interlocked.Add(ref moves.Value, count - reported);
        }

        return new SearchResult(Normalize(best), bestLength, count, accepted, clock.Elapsed);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int D(int a, int b) => _matrix is { } m ? m[(a * _n) + b] : Metrics.Distance(_metric, _x[a], _y[a], _x[b], _y[b]);

    // Mostly one of the k nearest neighbours; one draw in 16 any city, so the edges between clusters (whose cities
    // have no neighbours outside their own cluster) can still be improved.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Partner(int city, ulong r, ref Rng rng)
    {
        if (((r >> 4) & 15) == 0)
        {
            var any = rng.Below(_n - 1);
            return any >= city ? any + 1 : any;
        }

        return _neighbours[(city * _k) + (int)((r >> 8) % (uint)_k)];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Next(int i) => i + 1 == _n ? 0 : i + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Prev(int i) => i == 0 ? _n - 1 : i - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Wrap(int i) => i >= _n ? i - _n : i;

    // Metropolis: accept a worsening of delta with probability exp(-delta / T).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Accept(int delta, double temperature, ref Rng rng) =>
        delta < 40 * temperature && delta < -temperature * Math.Log(rng.Unit());

    /// <summary>Reverses the cyclic stretch of positions from..to; the complement when that is shorter (same cycle).</summary>
    private void Reverse(int[] tour, int[] pos, int from, int to)
    {
        var n = _n;
        var len = Wrap(to - from + n) + 1;
        if (2 * len > n)
        {
            (from, to) = (Next(to), Prev(from));
            len = n - len;
        }

        for (var s = 0; s < len / 2; s++)
        {
            var ci = tour[from];
            var cj = tour[to];
            tour[from] = cj;
            pos[cj] = from;
            tour[to] = ci;
            pos[ci] = to;
            from = Next(from);
            to = Prev(to);
        }
    }

    /// <summary>Moves the segment at positions i..i+len-1 into the gap after position g, shifting the shorter stretch between.</summary>
    private void MoveSegment(int[] tour, int[] pos, Span<int> buffer, int i, int len, int g, bool reversed)
    {
        var n = _n;
        for (var s = 0; s < len; s++)
        {
            buffer[s] = tour[Wrap(i + s)];
        }

        var forward = Wrap(g - (i + len - 1) + n);
        var backward = n - len - forward;
        int target;
        if (forward <= backward)
        {
            for (int s = 0, to = i, fromPos = Wrap(i + len); s < forward; s++, to = Next(to), fromPos = Next(fromPos))
            {
                var city = tour[fromPos];
                tour[to] = city;
                pos[city] = to;
            }

            target = Wrap(i + forward);
        }
        else
        {
            for (int s = 0, fromPos = Prev(i), to = Wrap(i + len - 1); s < backward; s++, fromPos = Prev(fromPos), to = Prev(to))
            {
                var city = tour[fromPos];
                tour[to] = city;
                pos[city] = to;
            }

            target = Next(g);
        }

        for (var s = 0; s < len; s++)
        {
            var city = buffer[reversed ? len - 1 - s : s];
            tour[target] = city;
            pos[city] = target;
            target = Next(target);
        }
    }

    // Starting at city 0 makes equal tours compare equal (direction is kept as found).
    private static int[] Normalize(int[] tour)
    {
        var zero = Array.IndexOf(tour, 0);
        if (zero <= 0)
        {
            return tour;
        }

        var rotated = new int[tour.Length];
        Array.Copy(tour, zero, rotated, 0, tour.Length - zero);
        Array.Copy(tour, 0, rotated, tour.Length - zero, zero);
        return rotated;
    }
}
