using Dapr.Actors;
using Dapr.Actors.Client;
using Platform.Ledger.Accounts;
using Platform.Ledger.Transfers;

namespace Platform.Ledger;

/// <summary>
/// Typed calls to the ledger's actors, sent as Dapr's actor invocation by method name with a JSON body (what every
/// language's SDK sends; the actor runtime dispatches it to the same interface method).
/// </summary>
/// <remarks>
/// Not Dapr.Actors' remoting proxies (<c>CreateActorProxy&lt;T&gt;</c>): each of those gets its own remoting client
/// with its own serializer, and so its own <c>JsonSerializerOptions</c> (dapr/dotnet-sdk
/// <c>ActorMessageBodyJsonSerializationProvider</c>), whose JSON metadata is derived again, with fresh dynamic methods,
/// for every proxy. With a proxy per call that was 30–40 % of the ledger's CPU under load (dotnet-trace, Ledger.Bench).
/// These clients share the runtime's one options instance.
/// </remarks>
internal static class LedgerActors
{
    public static IAccountActor Account(this IActorProxyFactory actors, string accountId) =>
        new AccountClient(actors.Create(new ActorId(accountId), LedgerNames.AccountActor));

    public static ITransferActor Transfer(this IActorProxyFactory actors, string transferId) =>
        new TransferClient(actors.Create(new ActorId(transferId), LedgerNames.TransferActor));

    public static IAccountDirectoryActor Directory(this IActorProxyFactory actors) =>
        new DirectoryClient(actors.Create(new ActorId(AccountDirectoryActor.DirectoryId), LedgerNames.DirectoryActor));

    private sealed class AccountClient(ActorProxy proxy) : IAccountActor
    {
        public Task<CommandResult> OpenAsync(OpenRequest request) => proxy.InvokeMethodAsync<OpenRequest, CommandResult>(nameof(OpenAsync), request);

        public Task<CommandResult> DepositAsync(MoneyRequest request) => proxy.InvokeMethodAsync<MoneyRequest, CommandResult>(nameof(DepositAsync), request);

        public Task<CommandResult> WithdrawAsync(MoneyRequest request) => proxy.InvokeMethodAsync<MoneyRequest, CommandResult>(nameof(WithdrawAsync), request);

        public Task<CommandResult> DebitForTransferAsync(TransferLeg leg) => proxy.InvokeMethodAsync<TransferLeg, CommandResult>(nameof(DebitForTransferAsync), leg);

        public Task<CommandResult> CreditForTransferAsync(TransferLeg leg) => proxy.InvokeMethodAsync<TransferLeg, CommandResult>(nameof(CreditForTransferAsync), leg);

        public Task<CommandResult> CompensateAsync(TransferLeg leg) => proxy.InvokeMethodAsync<TransferLeg, CommandResult>(nameof(CompensateAsync), leg);

        public Task<CommandResult> CloseAsync(CloseRequest request) => proxy.InvokeMethodAsync<CloseRequest, CommandResult>(nameof(CloseAsync), request);

        public Task<AccountView?> GetAsync() => proxy.InvokeMethodAsync<AccountView?>(nameof(GetAsync));

        public async Task<IReadOnlyList<LedgerEvent>> GetEventsAsync(long fromSequence) =>
            await proxy.InvokeMethodAsync<long, List<LedgerEvent>>(nameof(GetEventsAsync), fromSequence);
    }

    private sealed class TransferClient(ActorProxy proxy) : ITransferActor
    {
        public Task<TransferProgress> BeginAsync(TransferRequest request) => proxy.InvokeMethodAsync<TransferRequest, TransferProgress>(nameof(BeginAsync), request);

        public Task<TransferProgress> GetAsync() => proxy.InvokeMethodAsync<TransferProgress>(nameof(GetAsync));

        public Task SettleAsync() => proxy.InvokeMethodAsync(nameof(SettleAsync));

        public Task<LegVerdict> AuthorizeDebitAsync(LegClaim claim) => proxy.InvokeMethodAsync<LegClaim, LegVerdict>(nameof(AuthorizeDebitAsync), claim);

        public Task<LegVerdict> DecideAsync(LegClaim claim) => proxy.InvokeMethodAsync<LegClaim, LegVerdict>(nameof(DecideAsync), claim);
    }

    private sealed class DirectoryClient(ActorProxy proxy) : IAccountDirectoryActor
    {
        public Task AddAsync(string accountId) => proxy.InvokeMethodAsync(nameof(AddAsync), accountId);

        public async Task<IReadOnlyList<string>> ListAsync() => await proxy.InvokeMethodAsync<List<string>>(nameof(ListAsync));
    }
}
