using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Platform.Host.Running;

/// <summary>
/// Asking a child process to stop. .NET's <see cref="Process.Kill()"/> is SIGKILL; apps deserve SIGTERM first
/// so ASP.NET Core runs its graceful shutdown (finishes requests, flushes logs), as <c>docker stop</c> and
/// Kubernetes do. Windows has no SIGTERM, so there the process is killed.
/// </summary>
internal static partial class Signals
{
    private const int SigTerm = 15;

    public static void Terminate(Process process)
    {
        if (OperatingSystem.IsWindows())
        {
            process.Kill(entireProcessTree: true);
            return;
        }

        // ESRCH (already gone) is fine: the exit is what we wanted.
        _ = Kill(process.Id, SigTerm);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
