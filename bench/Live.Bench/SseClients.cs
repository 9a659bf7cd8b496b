using System.Text;
using System.Globalization;

namespace Platform.Live.Bench;

/// <summary>
/// Many Server-Sent-Event clients. For each delta carrying a solver load, the latency is the time from the
/// upstream publish (the load's <c>at</c>, stamped by this process just before publishing) to this client having
/// read the event — through the broker, the leader, the broadcast and the follower's fan-out.
/// </summary>
public sealed class SseClients(HttpClient http) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _readers = [];
    private readonly List<List<double>> _latencies = [];
    private int _connected;
    private volatile bool _recording;

    public int Connected => Volatile.Read(ref _connected);

    public void Start(string followerUrl, int count, string userPrefix)
    {
        for (var i = 0; i < count; i++)
        {
            var samples = new List<double>(4096);
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

    public List<double> Latencies()
    {
        var all = new List<double>();
        foreach (var list in _latencies)
        {
            lock (list)
            {
                all.AddRange(list);
            }
        }

        return all;
    }

    private async Task ReadAsync(string url, List<double> samples)
    {
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            response.EnsureSuccessStatusCode();
            Interlocked.Increment(ref _connected);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token), Encoding.UTF8);
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (!_recording || !line.StartsWith("data: {\"epoch\"", StringComparison.Ordinal))
                {
                    continue;
                }

                // No JSON parse per event (a thousand clients would make this process the bottleneck): the load's
                // "at" is found by position, as the leader writes it.
                var received = DateTimeOffset.UtcNow;
                var load = line.IndexOf("\"load\":{", StringComparison.Ordinal);
                var at = load < 0 ? -1 : line.IndexOf("\"at\":\"", load, StringComparison.Ordinal);
                var end = at < 0 ? -1 : line.IndexOf('"', at + 6);
                if (end > 0 && DateTimeOffset.TryParse(line.AsSpan(at + 6, end - at - 6), CultureInfo.InvariantCulture, DateTimeStyles.None, out var sent))
                {
                    lock (samples)
                    {
                        samples.Add((received - sent).TotalMilliseconds);
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_readers);
        _stop.Dispose();
    }

    public static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
