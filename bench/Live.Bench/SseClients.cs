using System.Text.Json;

namespace Platform.Live.Bench;

/// <summary>
/// Many Server-Sent-Event clients (run by the <c>reader</c> sub-command, in a process of their own). For each delta
/// carrying a solver load, the latency is the time from the upstream publish (the load's <c>at</c>, stamped by the
/// bench process just before publishing, same machine clock) to this client having read the event — through the
/// broker, the leader, the broadcast and the follower's fan-out.
/// </summary>
public sealed class SseClients(HttpClient http) : IAsyncDisposable
{
    private static ReadOnlySpan<byte> DeltaData => "data: {\"epoch\""u8;
    private static ReadOnlySpan<byte> LoadKey => "\"load\":{"u8;
    private static ReadOnlySpan<byte> AtKey => "\"at\":"u8;

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _readers = [];
    private readonly List<List<float>> _latencies = [];
    private int _connected;
    private int _ended;
    private volatile bool _recording;

    public int Connected => Volatile.Read(ref _connected);

    /// <summary>Streams that ended while the bench was still reading (the follower closes a client too slow to keep up).</summary>
    public int Ended => Volatile.Read(ref _ended);

    public void Start(string followerUrl, int count, string userPrefix)
    {
        for (var i = 0; i < count; i++)
        {
            var samples = new List<float>(4096);
            _latencies.Add(samples);
            var url = $"{followerUrl}events?user={userPrefix}{i}";
            _readers.Add(Task.Run(() => ReadAsync(url, samples)));
        }
    }

    public void Record(bool on)
    {
        if (on)
        {
            foreach (var list in _latencies)
            {
                lock (list)
                {
                    list.Clear();
                }
            }
        }

        _recording = on;
    }

    public List<float> Latencies()
    {
        var all = new List<float>();
        foreach (var list in _latencies)
        {
            lock (list)
            {
                all.AddRange(list);
            }
        }

        return all;
    }

    private async Task ReadAsync(string url, List<float> samples)
    {
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            response.EnsureSuccessStatusCode();
            Interlocked.Increment(ref _connected);
            await using var stream = await response.Content.ReadAsStreamAsync(_stop.Token);
            // Bytes, not strings: a thousand clients each reading 100 events/s must not make this process the
            // bottleneck. One clock reading per read, before parsing what it brought.
            var buffer = new byte[16 * 1024];
            int start = 0, end = 0;
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start == 0)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                    else
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                        end -= start;
                        start = 0;
                    }
                }

                var read = await stream.ReadAsync(buffer.AsMemory(end), _stop.Token);
                if (read == 0)
                {
                    break;
                }

                var received = DateTimeOffset.UtcNow;
                end += read;
                start = Consume(buffer, start, end, received, samples);
                if (start == end)
                {
                    start = end = 0;
                }
            }

            Interlocked.Increment(ref _ended);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            if (!_stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _ended);
            }
        }
    }

    // Every complete line in buffer[start..end]; returns where the incomplete rest begins.
    private int Consume(byte[] buffer, int start, int end, DateTimeOffset received, List<float> samples)
    {
        while (true)
        {
            var rest = buffer.AsSpan(start, end - start);
            var newline = rest.IndexOf((byte)'\n');
            if (newline < 0)
            {
                return start;
            }

            var line = rest[..newline];
            start += newline + 1;
            if (_recording && line.StartsWith(DeltaData) && SentAt(line) is { } sent)
            {
                lock (samples)
                {
                    samples.Add((float)(received - sent).TotalMilliseconds);
                }
            }
        }
    }

    // The load's "at", found by position as the leader writes it (no parse of the whole event).
    private static DateTimeOffset? SentAt(ReadOnlySpan<byte> line)
    {
        var load = line.IndexOf(LoadKey);
        if (load < 0)
        {
            return null;
        }

        var tail = line[(load + LoadKey.Length)..];
        var at = tail.IndexOf(AtKey);
        if (at < 0)
        {
            return null;
        }

        var value = tail[(at + AtKey.Length)..];
        var close = value.Length > 1 ? value[1..].IndexOf((byte)'"') : -1;
        if (close < 0)
        {
            return null;
        }

        var reader = new Utf8JsonReader(value[..(close + 2)]);
        return reader.Read() && reader.TryGetDateTimeOffset(out var sent) ? sent : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_readers);
        _stop.Dispose();
    }

    public static double Percentile(List<float> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
