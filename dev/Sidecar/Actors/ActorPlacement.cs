using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Platform.Sidecar.Invocation;

namespace Platform.Sidecar.Actors;

/// <summary>
/// Where each actor lives, in the role of Dapr's placement service: the hosts of an actor type are the live
/// sidecars (of any app-id) in the name registry whose app reported the type in <c>GET /dapr/config</c>; an actor id
/// belongs to one of them by consistent hashing, so every sidecar computes the same owner without talking to the
/// others, and when a host joins or leaves only the actors on its share of the ring move.
/// </summary>
internal sealed class ActorPlacement(NameRegistry registry)
{
    /// <summary>Virtual nodes per host, Dapr placement's default replication factor.</summary>
    private const int VirtualNodes = 100;

    private readonly ConcurrentDictionary<string, HashRing> _rings = new(StringComparer.Ordinal);

    /// <summary>The live sidecars whose app hosts <paramref name="type"/>, in a stable order.</summary>
    public Replica[] Hosts(string type, bool fresh = false) =>
        [.. registry.ResolveAll(fresh)
            .Where(r => r.ActorTypes is { } types && types.Contains(type, StringComparer.Ordinal))
            .OrderBy(r => r.InstanceId, StringComparer.Ordinal)];

    /// <summary>The sidecar that owns actor <paramref name="type"/>/<paramref name="id"/>; null when nothing hosts the type.</summary>
    public Replica? Owner(string type, string id, bool fresh = false) => Owner(Hosts(type, fresh), id);

    public Replica? Owner(Replica[] hosts, string id)
    {
        if (hosts.Length == 0)
        {
            return null;
        }

        if (hosts.Length == 1)
        {
            return hosts[0];
        }

        var key = string.Join('\n', hosts.Select(h => h.InstanceId));
        if (!_rings.TryGetValue(key, out var ring))
        {
            if (_rings.Count > 256)
            {
                _rings.Clear();
            }

            ring = _rings.GetOrAdd(key, _ => new HashRing(hosts.Select(h => h.InstanceId)));
        }

        var owner = ring.Get(id);
        return hosts.First(h => h.InstanceId == owner);
    }

    /// <summary>First 8 bytes of SHA-256, little-endian (Dapr uses BLAKE2b the same way; only consistency among our sidecars matters).</summary>
    internal static ulong Hash(string text)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), digest);
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }

    private sealed class HashRing
    {
        private readonly ulong[] _points;
        private readonly string[] _hosts;

        public HashRing(IEnumerable<string> hosts)
        {
            var nodes = new List<(ulong Point, string Host)>();
            foreach (var host in hosts)
            {
                for (var i = 0; i < VirtualNodes; i++)
                {
                    nodes.Add((Hash(host + i.ToString(System.Globalization.CultureInfo.InvariantCulture)), host));
                }
            }

            nodes.Sort((a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : string.CompareOrdinal(a.Host, b.Host));
            _points = [.. nodes.Select(n => n.Point)];
            _hosts = [.. nodes.Select(n => n.Host)];
        }

        /// <summary>The host of the first ring point at or after the key's hash, wrapping around.</summary>
        public string Get(string key)
        {
            var h = Hash(key);
            var i = Array.BinarySearch(_points, h);
            if (i < 0)
            {
                i = ~i;
            }

            // BinarySearch may land on any of equal points; step back to the first.
            while (i > 0 && i < _points.Length && _points[i - 1] == h)
            {
                i--;
            }

            return _hosts[i == _points.Length ? 0 : i];
        }
    }
}
