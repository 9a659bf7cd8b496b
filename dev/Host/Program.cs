using System.Runtime.InteropServices;
using Platform.Host;
using Platform.Host.Running;

// Runs the platform from tye.yaml on a machine without Dapr or Docker. See dev/Host/README.md.
var terminal = Terminal.ForConsole();
HostOptions options;
try
{
    options = HostOptions.Parse(args);
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(HostOptions.Usage);
    return HostCommand.BadInput;
}

if (options.Help)
{
    Console.WriteLine(HostOptions.Usage);
    return 0;
}

// First Ctrl+C (or SIGTERM) stops everything gracefully; a second one stops waiting for the apps.
using var stop = new CancellationTokenSource();
using var hurry = new CancellationTokenSource();
var signals = 0;
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    if (Interlocked.Increment(ref signals) > 1)
    {
        terminal.Host("stopping now: apps that are still running are killed");
        hurry.Cancel();
    }
    else
    {
        terminal.Host($"{context.Signal}: stopping");
        stop.Cancel();
    }
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await HostCommand.RunAsync(options, terminal, stop.Token, hurry.Token);
