using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Platform.Tsp;

public sealed partial class Annealer
{
    // How many 2-opt steps one Lin–Kernighan chain may take before it settles for the best prefix.
    private const int MaxDepth = 12;

    // The longest of the two segments a kick swaps.
    private const int MaxKickSegment = 30;

    /// <summary>
    /// The cold end of the schedule: an iterated local search. Local search is Lin–Kernighan-style chains of 2-opt
    /// moves (each step removes the edge the last one added at t1 and reconnects through one of t2's nearest
    /// neighbours, keeping the best prefix of the chain) plus Or-opt (segments of 1–3 cities moved next to a
    /// neighbour), driven by a queue of the cities whose edges changed (the don't-look bits). A kick swaps two
    /// adjacent segments of 1–30 cities (a double bridge, which no 2-opt or Or-opt step undoes); the result is
    /// kept when it is no longer than before the kick. A "move" here is one candidate evaluated, or one kick.
    /// </summary>
    private sealed class Ils
    {
        private readonly Annealer _a;
        private readonly int _n;
        private readonly int _k;
        private readonly int[] _nb;
        private readonly int[] _tour;
        private readonly int[] _pos;
        private readonly int[] _best;
        private readonly int[] _keepTour;
        private readonly int[] _keepPos;
        private readonly int[] _queue;
        private readonly bool[] _queued;
        private readonly int[] _stamp;
        private readonly int[] _undoFrom = new int[MaxDepth];
        private readonly int[] _undoTo = new int[MaxDepth];
        private readonly int[] _touched = new int[(2 * MaxDepth) + 2];
        private readonly int[] _buffer = new int[2 * MaxKickSegment];
        private Rng _rng;
        private int _head;
        private int _size;
        private int _stampNow;
        private long _length;
        private long _count;
        private long _maxMoves;
        private long _startTicks;
        private long _budgetTicks;
        private CancellationToken _cancellation;
        private bool _stop;

        /// <summary>Starts from <paramref name="best"/> (copied into the working arrays), which it keeps up to date.</summary>
        public Ils(Annealer annealer, int[] tour, int[] pos, int[] best, long bestLength, Rng rng)
        {
            _a = annealer;
            _n = annealer._n;
            _k = annealer._k;
            _nb = annealer._neighbours;
            _tour = tour;
            _pos = pos;
            _best = best;
            _rng = rng;
            Array.Copy(best, tour, _n);
            for (var i = 0; i < _n; i++)
            {
                pos[tour[i]] = i;
            }

            _length = BestLength = bestLength;
            _keepTour = new int[_n];
            _keepPos = new int[_n];
            _queue = new int[_n];
            _queued = new bool[_n];
            _stamp = new int[_n];
        }

        public long BestLength { get; private set; }

        public void Run(ref long count, ref long accepted, ref long reported, long maxMoves, long startTicks, long budgetTicks, StrongBox<long>? moves, CancellationToken cancellationToken)
        {
            (_count, _maxMoves, _startTicks, _budgetTicks, _cancellation) = (count, maxMoves, startTicks, budgetTicks, cancellationToken);
            for (var c = 0; c < _n; c++)
            {
                Push(c);
            }

            LocalSearch();
            Improved();
            var keptLength = _length;
            Array.Copy(_tour, _keepTour, _n);
            Array.Copy(_pos, _keepPos, _n);
            var kicks = 0;
            while (!_stop && !Tick())
            {
                if (moves is not null && (++kicks & 15) == 0)
                {
                    Interlocked.Add(ref moves.Value, _count - reported);
                    reported = _count;
                }

                Kick();
                LocalSearch();
                if (_length <= keptLength)
                {
                    accepted++;
                    keptLength = _length;
                    Array.Copy(_tour, _keepTour, _n);
                    Array.Copy(_pos, _keepPos, _n);
                    Improved();
                }
                else
                {
                    Array.Copy(_keepTour, _tour, _n);
                    Array.Copy(_keepPos, _pos, _n);
                    _length = keptLength;
                    while (_size > 0)
                    {
                        Pop();
                    }
                }
            }

            count = _count;
        }

        private void Improved()
        {
            if (_length < BestLength)
            {
                BestLength = _length;
                Array.Copy(_tour, _best, _n);
            }
        }

        /// <summary>Counts one move; true (and from then on <see cref="_stop"/>) once the budget, the move limit or the token says stop.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private bool Tick()
        {
            if (_stop)
            {
                return true; // counts nothing more once stopped, so a move limit is met exactly
            }

            if (++_count >= _maxMoves
                || ((_count & 1023) == 0 && (Stopwatch.GetTimestamp() - _startTicks >= _budgetTicks || _cancellation.IsCancellationRequested)))
            {
                _stop = true;
            }

            return _stop;
        }

        private void Push(int c)
        {
            if (!_queued[c])
            {
                _queued[c] = true;
                var at = _head + _size;
                _queue[at >= _n ? at - _n : at] = c;
                _size++;
            }
        }

        private int Pop()
        {
            var c = _queue[_head];
            _head = _head + 1 == _n ? 0 : _head + 1;
            _size--;
            _queued[c] = false;
            return c;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Succ(int c) => _tour[_a.Next(_pos[c])];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Pred(int c) => _tour[_a.Prev(_pos[c])];

        private void LocalSearch()
        {
            while (_size > 0 && !_stop)
            {
                var t1 = Pop();
                if (Chain(t1, forward: true) || Chain(t1, forward: false) || OrOpt(t1))
                {
                    Push(t1);
                }
            }
        }

        /// <summary>
        /// One Lin–Kernighan chain from t1 and the edge to its successor (or predecessor): each step is a 2-opt move
        /// that removes (t1, t2) and (t4, t3), adds (t2, t3) and (t1, t4), with t3 the neighbour of t2 that keeps the
        /// most gain open; the chain goes on from (t1, t4). Keeps the best prefix if it shortens the tour, else undoes all.
        /// </summary>
        private bool Chain(int t1, bool forward)
        {
            var t2 = forward ? Succ(t1) : Pred(t1);
            long cum = 0, bestCum = 0;
            int depth = 0, bestDepth = 0;
            _stampNow++;
            _touched[0] = t1;
            _touched[1] = t2;
            while (depth < MaxDepth && !_stop)
            {
                var open = _a.D(t1, t2) - cum;
                int t3 = -1, t4 = -1;
                var bestScore = int.MinValue;
                var row = t2 * _k;
                for (var q = 0; q < _k; q++)
                {
                    var c = _nb[row + q];
                    var d23 = _a.D(t2, c);
                    if (open - d23 <= 0 || Tick())
                    {
                        break; // the neighbours are sorted: the rest close no gain either
                    }

                    if (c == t1 || _stamp[c] == _stampNow)
                    {
                        continue;
                    }

                    var d = forward ? Pred(c) : Succ(c);
                    if (d == t2)
                    {
                        continue;
                    }

                    var score = _a.D(c, d) - d23;
                    if (score > bestScore)
                    {
                        (bestScore, t3, t4) = (score, c, d);
                    }
                }

                if (t3 < 0 || _stop)
                {
                    break;
                }

                var delta = _a.D(t2, t3) + _a.D(t4, t1) - _a.D(t1, t2) - _a.D(t3, t4);
                var (from, to) = forward ? (_pos[t2], _pos[t4]) : (_pos[t4], _pos[t2]);
                _a.Reverse(_tour, _pos, from, to);
                _undoFrom[depth] = from;
                _undoTo[depth] = to;
                _stamp[t3] = _stampNow;
                _touched[2 + (2 * depth)] = t3;
                _touched[3 + (2 * depth)] = t4;
                cum += delta;
                depth++;
                if (cum < bestCum)
                {
                    (bestCum, bestDepth) = (cum, depth);
                }

                // Reversing the complement instead turns the array's direction round: find t1's new side of t4.
                t2 = t4;
                forward = Succ(t1) == t4;
            }

            for (var d = depth - 1; d >= bestDepth; d--)
            {
                _a.Reverse(_tour, _pos, _undoFrom[d], _undoTo[d]);
            }

            if (bestDepth == 0)
            {
                return false;
            }

            _length += bestCum;
            for (var i = 0; i < 2 + (2 * bestDepth); i++)
            {
                Push(_touched[i]);
            }

            return true;
        }

        /// <summary>The first improving Or-opt move of a segment of 1–3 cities that starts or ends at t1.</summary>
        private bool OrOpt(int t1)
        {
            var n = _n;
            for (var len = 1; len <= 3; len++)
            {
                for (var side = 0; side < (len == 1 ? 1 : 2); side++)
                {
                    var i = side == 0 ? _pos[t1] : _a.Wrap(_pos[t1] - len + 1 + n);
                    var last = _a.Wrap(i + len - 1);
                    int s1 = _tour[i], s2 = _tour[last], p = _tour[_a.Prev(i)], q = _tour[_a.Next(last)];
                    var removed = _a.D(p, s1) + _a.D(s2, q) - _a.D(p, q);
                    if (removed <= 0)
                    {
                        continue;
                    }

                    for (var end = 0; end < 2; end++)
                    {
                        var x = end == 0 ? s1 : s2;
                        var y = end == 0 ? s2 : s1;
                        var row = x * _k;
                        for (var r = 0; r < _k; r++)
                        {
                            var c = _nb[row + r];
                            var dcx = _a.D(c, x);
                            if (dcx >= removed || Tick())
                            {
                                break;
                            }

                            var j = _pos[c];
                            if (_a.Wrap(j - i + n) < len)
                            {
                                continue;
                            }

                            for (var after = 0; after < 2; after++)
                            {
                                var ePos = after == 0 ? _a.Next(j) : _a.Prev(j);
                                if (_a.Wrap(ePos - i + n) < len)
                                {
                                    continue;
                                }

                                var e = _tour[ePos];
                                var delta = dcx + _a.D(y, e) - _a.D(c, e) - removed;
                                if (delta >= 0)
                                {
                                    continue;
                                }

                                var g = after == 0 ? j : ePos;
                                var first = _tour[g] == c ? x : y;
                                _a.MoveSegment(_tour, _pos, _buffer, i, len, g, reversed: first != s1);
                                _length += delta;
                                Push(p);
                                Push(q);
                                Push(s1);
                                Push(s2);
                                Push(c);
                                Push(e);
                                return true;
                            }
                        }
                    }
                }
            }

            return false;
        }

        /// <summary>Swaps two adjacent random segments B and C (A B C D becomes A C B D): a double bridge.</summary>
        private void Kick()
        {
            var n = _n;
            var most = Math.Min(MaxKickSegment, (n - 2) / 2);
            var lb = 1 + _rng.Below(most);
            var lc = 1 + _rng.Below(most);
            var i0 = _rng.Below(n);
            int a = _tour[i0], b1 = _tour[_a.Wrap(i0 + 1)], bEnd = _tour[_a.Wrap(i0 + lb)];
            int c1 = _tour[_a.Wrap(i0 + lb + 1)], cEnd = _tour[_a.Wrap(i0 + lb + lc)], d = _tour[_a.Wrap(i0 + lb + lc + 1)];
            _length += _a.D(a, c1) + _a.D(cEnd, b1) + _a.D(bEnd, d) - _a.D(a, b1) - _a.D(bEnd, c1) - _a.D(cEnd, d);
            for (var s = 0; s < lc; s++)
            {
                _buffer[s] = _tour[_a.Wrap(i0 + lb + 1 + s)];
            }

            for (var s = 0; s < lb; s++)
            {
                _buffer[lc + s] = _tour[_a.Wrap(i0 + 1 + s)];
            }

            for (var s = 0; s < lb + lc; s++)
            {
                var at = _a.Wrap(i0 + 1 + s);
                _tour[at] = _buffer[s];
                _pos[_buffer[s]] = at;
            }

            Push(a);
            Push(b1);
            Push(bEnd);
            Push(c1);
            Push(cEnd);
            Push(d);
        }
    }
}
