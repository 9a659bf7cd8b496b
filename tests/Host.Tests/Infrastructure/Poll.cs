namespace Platform.Host.Tests.Infrastructure;

/// <summary>Waits for a condition by polling it until a deadline; never a fixed sleep.</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string what, TimeSpan timeout)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(50);
        }
    }
}
