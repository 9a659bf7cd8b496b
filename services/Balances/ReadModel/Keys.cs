using System.Text;

namespace Platform.Balances.ReadModel;

/// <summary>
/// The state keys of the read model. Everything but the pointer lives under a generation (<c>g{n}|…</c>) so that a
/// rebuild can fill fresh keys while the live ones keep serving, and switch over by changing one document.
/// </summary>
public static class Keys
{
    public const string Pointer = "model";

    public const int LinesPerPage = 50;

    // Totals are striped over a fixed number of shard documents (see TotalsShard). Changing it needs a rebuild.
    public const int TotalsShards = 16;

    public static string Account(int generation, string accountId) => $"g{generation}|account|{accountId}";

    public static string Statement(int generation, string accountId, int page) => $"g{generation}|statement|{accountId}|{page}";

    public static string Totals(int generation, int shard) => $"g{generation}|totals|{shard}";

    /// <summary>The 1-based storage page that holds the statement line with this 0-based index.</summary>
    public static int PageOf(long lineIndex) => (int)(lineIndex / LinesPerPage) + 1;

    /// <summary>Dapr refuses keys containing <c>||</c>; no account can have such an id.</summary>
    public static bool IsValidAccountId(string? accountId) => !string.IsNullOrEmpty(accountId) && !accountId.Contains("||", StringComparison.Ordinal);

    /// <summary>FNV-1a over the UTF-8 bytes: stable across processes and versions, unlike string.GetHashCode.</summary>
    public static int ShardOf(string accountId)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(accountId))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % TotalsShards);
    }
}
