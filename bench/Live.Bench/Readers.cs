using System.Diagnostics;
using System.Text.Json;

namespace Platform.Live.Bench;

/// <summary>What a reader process reports at the end of a measurement: one JSON line on its standard output.</summary>
public sealed record ReaderReport(int Clients, int Connected, int Ended, long Events, double P50, double P90, double P99, double P999, double Max);

/// <summary>
/// <c>Platform.Live.Bench reader --clients N --prefix user- URL...</c>: the SSE readers in a process of their own,
/// <c>N</c> clients split evenly over the followers' URLs. It speaks one line at a time: it writes
/// <c>{"connected":N}</c> once every client has its stream; then <c>record</c> on its standard input clears the
/// samples and starts recording, and <c>stop</c> ends the recording and writes the <see cref="ReaderReport"/>. It
/// ends when its standard input closes.
/// </summary>
public static class ReaderCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var clients = 0;
        var prefix = "user-";
        var urls = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--clients" when i + 1 < args.Length:
                    clients = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "--prefix" when i + 1 < args.Length:
                    prefix = args[++i];
                    break;
                default:
                    urls.Add(args[i]);
                    break;
            }
        }

        if (clients <= 0 || urls.Count == 0)
        {
            await Console.Error.WriteLineAsync("usage: Platform.Live.Bench reader --clients N [--prefix user-] <follower url>...");
            return 2;
        }

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        await using var sse = new SseClients(http);
        for (var i = 0; i < urls.Count; i++)
        {
            sse.Start(urls[i], clients / urls.Count + (i < clients % urls.Count ? 1 : 0), $"{prefix}{i}-");
        }

        var deadline = Stopwatch.StartNew();
        while (sse.Connected < clients)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(120) || sse.Ended > 0)
            {
                await Console.Error.WriteLineAsync($"reader: {sse.Connected} of {clients} clients connected, {sse.Ended} streams ended");
                return 1;
            }

            await Task.Delay(50);
        }

        Send(new { connected = clients });
        var ended0 = 0;
        while (await Console.In.ReadLineAsync() is { } command)
        {
            switch (command.Trim())
            {
                case "record":
                    ended0 = sse.Ended;
                    sse.Record(true);
                    Send(new { recording = true });
                    break;
                case "stop":
                    sse.Record(false);
                    var latencies = sse.Latencies();
                    latencies.Sort();
                    Send(new ReaderReport(clients, sse.Connected, sse.Ended - ended0, latencies.Count,
                        SseClients.Percentile(latencies, 50), SseClients.Percentile(latencies, 90), SseClients.Percentile(latencies, 99),
                        SseClients.Percentile(latencies, 99.9), latencies.Count == 0 ? double.NaN : latencies[^1]));
                    break;
            }
        }

        return 0;
    }

    private static void Send<T>(T message)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(message, JsonSerializerOptions.Web));
        Console.Out.Flush();
    }
}

/// <summary>The bench's side of a reader process.</summary>
public sealed class ReaderProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ReaderProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>Starts the readers and waits until every client has its stream.</summary>
    public static async Task<ReaderProcess> StartAsync(IReadOnlyList<string> followerUrls, int clients)
    {
        string[] arguments = ["--clients", clients.ToString(System.Globalization.CultureInfo.InvariantCulture), .. followerUrls];
        var reader = new ReaderProcess(BenchChild.Start("reader", arguments));
        try
        {
            await reader.ExpectAsync("connected", TimeSpan.FromSeconds(150));
        }
        catch
        {
            await reader.DisposeAsync();
            throw;
        }

        return reader;
    }

    public Task RecordAsync()
    {
        _process.StandardInput.WriteLine("record");
        _process.StandardInput.Flush();
        return ExpectAsync("recording", TimeSpan.FromSeconds(30));
    }

    public async Task<ReaderReport> StopAsync()
    {
        await _process.StandardInput.WriteLineAsync("stop");
        await _process.StandardInput.FlushAsync();
        var line = await ExpectAsync("events", TimeSpan.FromSeconds(60));
        return JsonSerializer.Deserialize<ReaderReport>(line, JsonSerializerOptions.Web)!;
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public TimeSpan CpuTime() => BenchChild.CpuTime(_process);

    private async Task<string> ExpectAsync(string key, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (await _process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith('{') && line.Contains($"\"{key}\"", StringComparison.Ordinal))
            {
                return line;
            }
        }

        throw new InvalidOperationException($"the reader process ended (exit code {(_process.HasExited ? _process.ExitCode : -1)}) before reporting {key}");
    }

    public ValueTask DisposeAsync() => BenchChild.StopAsync(_process, TimeSpan.FromSeconds(10));
}
