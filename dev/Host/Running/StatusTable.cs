using System.Globalization;

namespace Platform.Host.Running;

/// <summary>The status table: one row per replica, aligned columns, printed again whenever a state changes.</summary>
internal static class StatusTable
{
    private static readonly string[] Header = ["service", "replica", "pid", "app port", "dapr http", "dapr grpc", "state", "restarts"];

    public static IReadOnlyList<string> Render(IEnumerable<ReplicaRunner> replicas)
    {
        var rows = new List<string[]> { Header };
        rows.AddRange(replicas.Select(r => new[]
        {
            r.Service,
            r.Name,
            Show(r.ProcessId),
            Show(r.AppPort),
            Show(r.Sidecar?.HttpPort),
            Show(r.Sidecar?.GrpcPort),
            r.State.ToString().ToLowerInvariant(),
            Show(r.Restarts),
        }));
        var widths = Enumerable.Range(0, Header.Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        return [.. rows.Select(r => "  " + string.Join("  ", r.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd())];
    }

    private static string Show(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
