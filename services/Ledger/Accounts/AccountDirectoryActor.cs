using Dapr.Actors;
using Dapr.Actors.Runtime;

namespace Platform.Ledger.Accounts;

/// <summary>The list of every account id, so the read models can be rebuilt from the system of record.</summary>
public interface IAccountDirectoryActor : IActor
{
    Task AddAsync(string accountId);

    Task<IReadOnlyList<string>> ListAsync();
}

internal sealed class AccountDirectoryActor(ActorHost host) : Actor(host), IAccountDirectoryActor
{
    public const string DirectoryId = "all";
    private const string Key = "accounts";

    public async Task AddAsync(string accountId)
    {
        var accounts = await StateManager.GetOrAddStateAsync(Key, new SortedSet<string>(StringComparer.Ordinal));
        if (accounts.Add(accountId))
        {
            await StateManager.SetStateAsync(Key, accounts);
            await StateManager.SaveStateAsync();
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync() =>
        [.. await StateManager.GetOrAddStateAsync(Key, new SortedSet<string>(StringComparer.Ordinal))];
}
