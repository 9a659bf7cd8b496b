using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace Platform.Live.Tests.Infrastructure;

/// <summary>One Server-Sent-Event event as a browser's EventSource would dispatch it.</summary>
public sealed record SseEvent(string? Id, string Type, JsonElement Data);

/// <summary>Reads an event stream as EventSource does (id, event, data lines; blank line dispatches).</summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _reading = Task.CompletedTask;

    public ConcurrentQueue<SseEvent> Events { get; } = new();

    /// <summary>The last id seen (advanced by id-only frames too, as in a browser).</summary>
    public string? LastEventId { get; private set; }

    public bool Ended { get; private set; }

    public static SseClient Start(HttpClient http, string path, string? lastEventId)
    {
        var client = new SseClient();
        client._reading = client.ReadAsync(http, path, lastEventId);
        return client;
    }

    private async Task ReadAsync(HttpClient http, string path, string? lastEventId)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (lastEventId is not null)
            {
                request.Headers.Add("Last-Event-ID", lastEventId);
            }

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token), Encoding.UTF8);
            string? id = null, type = null;
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (id is not null)
                    {
                        LastEventId = id;
                    }

                    if (data.Length > 0)
                    {
                        using var doc = JsonDocument.Parse(data.ToString());
                        Events.Enqueue(new SseEvent(id, type ?? "message", doc.RootElement.Clone()));
                    }

                    (id, type) = (null, null);
                    data.Clear();
                }
                else if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Append(line[6..]);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
        }
        finally
        {
            Ended = true;
        }
    }

    public IEnumerable<SseEvent> OfType(string type) => Events.Where(e => e.Type == type);

    /// <summary>The sequence numbers of the delta events received, in order.</summary>
    public List<long> DeltaSeqs() => [.. OfType("delta").Select(e => e.Data.GetProperty("seq").GetInt64())];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        _stop.Dispose();
    }
}
