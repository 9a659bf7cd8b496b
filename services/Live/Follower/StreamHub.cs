using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Platform.Live.Views;

namespace Platform.Live.Follower;

/// <summary>
/// The follower's Server-Sent-Event fan-out. Each delta is serialized once (one frame for its owner, one with
/// only the shared totals for everyone else) and the same bytes go to every client; a client too slow to keep up
/// is closed and reconnects with <c>Last-Event-ID</c>. The last <see cref="LiveOptions.ReplayWindow"/> deltas are
/// kept for such reconnections. <see cref="Publish"/> is called by <see cref="Mirror"/> under its lock, so the
/// order is the sequence order.
/// <para>
/// The fan-out is one loop (<see cref="RunAsync"/>, run by <see cref="FollowerWorker"/>) that takes every delta
/// published since its last pass as one batch and hands it to each client as one write: idle, a delta goes out
/// at once; busy (deltas arriving faster than a pass over the clients takes), the batches grow, and each client
/// gets several deltas per socket write instead of one write per delta — the cost per delta falls as the load
/// rises, rather than the queues growing. A client's stream loop waiting for its next write runs on the fan-out's
/// thread (its queue allows synchronous continuations): it copies the batch into its response and flushes, which
/// only hands the bytes to Kestrel's send loop, so a pass never waits on a slow client and costs no thread-pool
/// hop per client. The clients are iterated from an array replaced on connect and disconnect (a stream that
/// ends disconnects from inside the pass).
/// </para>
/// </summary>
public sealed class StreamHub(IOptions<LiveOptions> options)
{
    /// <summary>Writes (a frame, or a batch of deltas) a client may have queued before it counts as too slow.</summary>
    public const int ClientQueue = 4096;

    private readonly Lock _lock = new();
    private readonly HashSet<StreamClient> _clients = [];
    private readonly LinkedList<Frame> _recent = new();
    private readonly List<Frame> _unsent = [];
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private StreamClient[] _fanOut = [];

    /// <summary>One delta, encoded: the frame for its owner (or everyone), and the one for everyone else.</summary>
    internal sealed record Frame(long Seq, string? Owner, byte[] ForOwner, byte[]? ForOthers)
    {
        public byte[] For(string user) => Owner is null || Owner == user ? ForOwner : ForOthers!;
    }

    public int Clients
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    public void Publish(Delta delta)
    {
        var id = EventId(delta.Epoch, delta.Seq);
        var full = Encode(id, "delta", delta);
        // Others see only what is shared: the totals, if they changed; else just the id moving on (a comment-free
        // frame with no data is not dispatched by browsers, but it advances Last-Event-ID).
        var others = delta.Owner is null ? full
            : delta.Totals is { } totals ? Encode(id, "delta", new Delta(delta.Epoch, delta.Seq, delta.At, "totals", Totals: totals))
            : Encoding.UTF8.GetBytes($"id: {id}\n\n");
        var frame = new Frame(delta.Seq, delta.Owner, full, others);
        lock (_lock)
        {
            _recent.AddLast(frame);
            while (_recent.Count > options.Value.ReplayWindow)
            {
                _recent.RemoveFirst();
            }

            _unsent.Add(frame);
        }

        _wake.Release();
    }

    /// <summary>The fan-out loop: one pass per wake-up, over every delta published since the last.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _wake.WaitAsync(ct);
            FanOut();
        }
    }

    /// <summary>One pass: what was published since the last goes to every client, as one write each.</summary>
    internal void FanOut()
    {
        lock (_lock)
        {
            if (_unsent.Count == 0)
            {
                return;
            }

            var batch = _unsent.ToArray();
            _unsent.Clear();
            foreach (var client in _fanOut)
            {
                client.Send(batch);
            }
        }
    }

    /// <summary>After a resync: the deltas in between are unknown, so every client starts again from the snapshot.</summary>
    public void Reset(Snapshot snapshot)
    {
        lock (_lock)
        {
            _recent.Clear();
            _unsent.Clear();
            foreach (var client in _fanOut)
            {
                client.Send(Encode(EventId(snapshot.Epoch, snapshot.Seq), "snapshot", ViewState.ForUser(snapshot, client.User)), snapshot.Seq);
            }
        }
    }

    public StreamClient Connect(string user, string? lastEventId, string epoch, long seq, Func<Snapshot> snapshot)
    {
        var client = new StreamClient(user, this);
        lock (_lock)
        {
            if (ParseEventId(lastEventId) is { } last && last.Epoch == epoch && last.Seq <= seq
                && (last.Seq == seq || (_recent.First is { } oldest && oldest.Value.Seq <= last.Seq + 1)))
            {
                var missed = _recent.Where(f => f.Seq > last.Seq).ToArray();
                if (missed.Length > 0)
                {
                    client.Send(missed);
                }
            }
            else
            {
                client.Send(Encode(EventId(epoch, seq), "snapshot", ViewState.ForUser(snapshot(), user)), seq);
            }

            // Deltas up to seq that the fan-out has not passed on yet are in what the client just got.
            client.SentUpTo = seq;
            _clients.Add(client);
            _fanOut = [.. _clients];
        }

        return client;
    }

    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();

    /// <summary>A comment line to every client, so proxies and browsers keep quiet streams open.</summary>
    public void Heartbeat()
    {
        lock (_lock)
        {
            foreach (var client in _fanOut)
            {
                client.Send(KeepAlive, null);
            }
        }
    }

    public void Disconnect(StreamClient client)
    {
        lock (_lock)
        {
            if (_clients.Remove(client))
            {
                _fanOut = [.. _clients];
            }
        }
    }

    public static string EventId(string epoch, long seq) => $"{epoch}.{seq}";

    private static (string Epoch, long Seq)? ParseEventId(string? id) =>
        id?.LastIndexOf('.') is > 0 and var dot && long.TryParse(id.AsSpan(dot + 1), out var seq) ? (id[..dot], seq) : null;

    private static byte[] Encode<T>(string id, string type, T data) =>
        Encoding.UTF8.GetBytes($"id: {id}\nevent: {type}\ndata: {JsonSerializer.Serialize(data, JsonSerializerOptions.Web)}\n\n");
}

/// <summary>One connected stream: a queue of writes (a frame, or a batch of deltas) its response loop copies out.</summary>
public sealed class StreamClient(string user, StreamHub hub)
{
    // Synchronous continuations: the stream loop waiting here writes on the sender's thread (see StreamHub).
    private readonly Channel<Outgoing> _queue = Channel.CreateBounded<Outgoing>(
        new BoundedChannelOptions(StreamHub.ClientQueue) { SingleReader = true, AllowSynchronousContinuations = true });

    private readonly record struct Outgoing(byte[]? Frame, StreamHub.Frame[]? Deltas);

    public string User => user;

    /// <summary>The sequence this client's stream is at (under the hub's lock): a batch's deltas up to it are skipped.</summary>
    internal long SentUpTo { get; set; }

    /// <summary>Waits until there is something to write; false once the stream is to end (the client was too slow).</summary>
    public ValueTask<bool> WaitAsync(CancellationToken ct) => _queue.Reader.WaitToReadAsync(ct);

    /// <summary>Copies everything queued into <paramref name="output"/>; returns how many queued writes that was.</summary>
    public int WriteQueued(IBufferWriter<byte> output)
    {
        var writes = 0;
        while (_queue.Reader.TryRead(out var item))
        {
            writes++;
            if (item.Frame is { } frame)
            {
                output.Write(frame);
                continue;
            }

            foreach (var delta in item.Deltas!)
            {
                output.Write(delta.For(user));
            }
        }

        return writes;
    }

    // Under the hub's lock.
    internal void Send(byte[] frame, long? seq)
    {
        Enqueue(new Outgoing(frame, null));
        if (seq is { } at)
        {
            SentUpTo = at;
        }
    }

    // Under the hub's lock. The same array goes to every client; one that already has some of it gets the rest.
    internal void Send(StreamHub.Frame[] deltas)
    {
        var from = 0;
        while (from < deltas.Length && deltas[from].Seq <= SentUpTo)
        {
            from++;
        }

        if (from == deltas.Length)
        {
            return;
        }

        SentUpTo = deltas[^1].Seq;
        Enqueue(new Outgoing(null, from == 0 ? deltas : deltas[from..]));
    }

    private void Enqueue(Outgoing item)
    {
        if (!_queue.Writer.TryWrite(item))
        {
            // Too slow: end the stream; the browser reconnects with Last-Event-ID and catches up.
            _queue.Writer.TryComplete();
        }
    }

    public void Disconnect() => hub.Disconnect(this);
}
