using System.Net;
using System.Net.Sockets;

namespace Platform.Host.Running;

/// <summary>
/// Free loopback ports for the apps, asked of the OS (bind to port 0) as Tye does. An app's port has to be
/// known before the app starts, so it is released and re-bound by the app a moment later; the ports handed out
/// in this run are remembered so two replicas never get the same one.
/// </summary>
internal sealed class FreePorts
{
    private readonly HashSet<int> _given = [];
    private readonly Lock _gate = new();

    public int Next()
    {
        lock (_gate)
        {
            while (true)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (_given.Add(port))
                {
                    return port;
                }
            }
        }
    }

    /// <summary>Whether something accepts TCP connections on the port (the app is listening).</summary>
    public static async Task<bool> AnswersAsync(int port, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, ct);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
