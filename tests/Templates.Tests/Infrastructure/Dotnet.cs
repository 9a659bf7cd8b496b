using System.Diagnostics;
using System.Text;

namespace Platform.Templates.Tests.Infrastructure;

/// <summary>Runs the <c>dotnet</c> CLI as a user would, in a folder, and keeps what it printed.</summary>
public static class Dotnet
{
    public static string Executable =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

    /// <summary>Runs <c>dotnet args</c> in <paramref name="folder"/> and fails the test, with the output, unless it exits 0.</summary>
    public static async Task<string> RunAsync(string folder, TimeSpan timeout, params string[] args)
    {
        var (code, output) = await TryRunAsync(folder, timeout, args);
        Assert.True(code == 0, $"dotnet {string.Join(' ', args)} (in {folder}) exited {code}:\n{output}");
        return output;
    }

    public static async Task<(int Code, string Output)> TryRunAsync(string folder, TimeSpan timeout, params string[] args)
    {
        var info = Start(folder, args);
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} (in {folder}) did not finish within {timeout}:\n{Text(output)}");
        }

        return (process.ExitCode, Text(output));
    }

    /// <summary>
    /// A <c>dotnet</c> child that behaves as in a terminal, not as part of this test run: no MSBuild or test-host
    /// settings inherited from <c>dotnet test</c>, and no build servers left behind holding our output pipes.
    /// </summary>
    public static ProcessStartInfo Start(string folder, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["UseSharedCompilation"] = "false";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        info.Environment["NO_COLOR"] = "1";
        return info;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
