using System.Net;
using System.Net.Sockets;

namespace Platform.Host.Running;

/// <summary>
/// Free loopback ports for the apps, asked of the OS (bind to port 0) as Tye does. An app's port has to be
/// known before the app starts, so it is held — bound, not listening — while the sidecars bind their own free
/// ports: the OS cannot hand it to one of them, and a sidecar waiting for its app is refused rather than
/// answered by the placeholder. It is let go just before the app starts and binds it itself.
/// </summary>
internal sealed class FreePorts : IDisposable
{
    private readonly Dictionary<int, Socket> _held = [];
    private readonly Lock _gate = new();

    public int Reserve()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        lock (_gate)
        {
            _held.Add(port, socket);
        }

        return port;
    }

    /// <summary>Lets go of every port held, so the apps can bind them.</summary>
    public void ReleaseAll()
    {
        lock (_gate)
        {
            foreach (var socket in _held.Values)
            {
                socket.Dispose();
            }

            _held.Clear();
        }
    }

    public void Dispose() => ReleaseAll();

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
