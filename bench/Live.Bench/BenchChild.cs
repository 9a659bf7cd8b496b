using System.Diagnostics;

namespace Platform.Live.Bench;

/// <summary>This bench started again as a child process with a sub-command (readers, sidecars), driven over stdin/stdout.</summary>
internal static class BenchChild
{
    public static Process Start(string command, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        start.ArgumentList.Add(command);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public static TimeSpan CpuTime(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    /// <summary>Closes its stdin (the child's signal to stop), waits up to <paramref name="grace"/>, then kills it.</summary>
    public static async ValueTask StopAsync(Process process, TimeSpan grace)
    {
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // already gone
        }

        using var wait = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }
}
