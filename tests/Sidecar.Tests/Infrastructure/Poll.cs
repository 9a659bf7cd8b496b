namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>Waits for a condition by polling it until a deadline; never a fixed sleep.</summary>
public static class Poll
{
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout);

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Asserts that a condition stays false for a while (used to show that something does NOT happen).</summary>
    public static async Task StaysFalseAsync(Func<bool> condition, string what, TimeSpan during)
    {
        var until = DateTime.UtcNow + during;
        while (DateTime.UtcNow < until)
        {
            Assert.False(condition(), what);
            await Task.Delay(20);
        }
    }
}
