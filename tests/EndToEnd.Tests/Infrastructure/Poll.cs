namespace Platform.EndToEnd.Tests.Infrastructure;

/// <summary>Waits for an outcome by asking again until a deadline (never by sleeping a guessed time).</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, Func<T?, bool> done, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        T? last = default;
        Exception? lastError = null;
        while (true)
        {
            try
            {
                last = await probe();
                if (done(last))
                {
                    return last!;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                lastError = e;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {seconds} s waiting for {what}; last seen: {last}{(lastError is null ? "" : $"; last error: {lastError.Message}")}");
            }

            await Task.Delay(100);
        }
    }

    public static Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 60) =>
        UntilAsync(async () => await condition(), ok => ok, what, seconds);
}
