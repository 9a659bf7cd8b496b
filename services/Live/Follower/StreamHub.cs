using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Platform.Live.Views;

namespace Platform.Live.Follower;

/// <summary>
/// The follower's Server-Sent-Event fan-out. Each delta is serialized once (one frame for its owner, one with
/// only the shared totals for everyone else) and queued to every client; a client too slow to keep up is closed
/// and reconnects with <c>Last-Event-ID</c>. The last <see cref="LiveOptions.ReplayWindow"/> deltas are kept for
/// such reconnections. Called by <see cref="Mirror"/> under its lock, so the order is the sequence order.
/// </summary>
public sealed class StreamHub(IOptions<LiveOptions> options)
{
    /// <summary>Frames a client may have queued before it counts as too slow.</summary>
    public const int ClientQueue = 4096;

    private readonly Lock _lock = new();
    private readonly HashSet<StreamClient> _clients = [];
    private readonly LinkedList<Frame> _recent = new();

    private sealed record Frame(long Seq, string? Owner, byte[] ForOwner, byte[]? ForOthers);

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

            foreach (var client in _clients)
            {
                client.Send(Pick(frame, client.User));
            }
        }
    }

    /// <summary>After a resync: the deltas in between are unknown, so every client starts again from the snapshot.</summary>
    public void Reset(Snapshot snapshot)
    {
        lock (_lock)
        {
            _recent.Clear();
            foreach (var client in _clients)
            {
                client.Send(Encode(EventId(snapshot.Epoch, snapshot.Seq), "snapshot", ViewState.ForUser(snapshot, client.User)));
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
                foreach (var frame in _recent.Where(f => f.Seq > last.Seq))
                {
                    client.Send(Pick(frame, user));
                }
            }
            else
            {
                client.Send(Encode(EventId(epoch, seq), "snapshot", ViewState.ForUser(snapshot(), user)));
            }

            _clients.Add(client);
        }

        return client;
    }

    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();

    /// <summary>A comment line to every client, so proxies and browsers keep quiet streams open.</summary>
    public void Heartbeat()
    {
        lock (_lock)
        {
            foreach (var client in _clients)
            {
                client.Send(KeepAlive);
            }
        }
    }

    public void Disconnect(StreamClient client)
    {
        lock (_lock)
        {
            _clients.Remove(client);
        }
    }

    private static byte[] Pick(Frame frame, string user) => frame.Owner is null || frame.Owner == user ? frame.ForOwner : frame.ForOthers!;

    public static string EventId(string epoch, long seq) => $"{epoch}.{seq}";

    private static (string Epoch, long Seq)? ParseEventId(string? id) =>
        id?.LastIndexOf('.') is > 0 and var dot && long.TryParse(id.AsSpan(dot + 1), out var seq) ? (id[..dot], seq) : null;

    private static byte[] Encode<T>(string id, string type, T data) =>
        Encoding.UTF8.GetBytes($"id: {id}\nevent: {type}\ndata: {JsonSerializer.Serialize(data, JsonSerializerOptions.Web)}\n\n");
}

/// <summary>One connected stream: a queue of frames its response loop writes out.</summary>
public sealed class StreamClient(string user, StreamHub hub)
{
    private readonly Channel<byte[]> _frames = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(StreamHub.ClientQueue) { SingleReader = true });

    public string User => user;

    public ChannelReader<byte[]> Frames => _frames.Reader;

    internal void Send(byte[] frame)
    {
        if (!_frames.Writer.TryWrite(frame))
        {
            // Too slow: end the stream; the browser reconnects with Last-Event-ID and catches up.
            _frames.Writer.TryComplete();
        }
    }

    public void Disconnect() => hub.Disconnect(this);
}
