using Dapr.Actors.Runtime;
using Dapr.Client;

namespace Platform.Ledger.Accounts;

/// <summary>
/// An event-sourced account. A command is decided against the account's state; an accepted one becomes an event
/// stored in the actor's state together with the new state and the command's reference (one transaction), and
/// is then published on <c>ledger</c>. Storing and publishing cannot diverge: <c>published</c> records how far the
/// log has been published, and an <c>outbox</c> reminder registered before the write publishes the rest if the
/// process dies in between (a reminder survives restarts). Consumers therefore see every event at least once,
/// in order. Repeating a reference returns the first outcome and changes nothing.
/// </summary>
internal sealed partial class AccountActor(ActorHost host, DaprClient dapr, ILogger<AccountActor> logger) : Actor(host), IAccountActor, IRemindable
{
    private const string AccountKey = "account";
    private const string PublishedKey = "published";
    private const string OutboxReminder = "outbox";

    private static string EventKey(long sequence) => $"event-{sequence:D12}";

    private static string ReferenceKey(string reference) => $"ref-{reference}";

    private string AccountId => Id.GetId();

    protected override Task OnActivateAsync() => FlushAsync();

    public Task<CommandResult> OpenAsync(OpenRequest request) =>
        ApplyAsync(request.Reference, $"open|{request.Owner}", state => state is not null
            ? Decision.Reject("already-open", $"account {AccountId} is already open")
            : Decision.Accept(new LedgerEvent(EventKinds.AccountOpened, AccountId, 1, null, request.Reference, DateTimeOffset.UtcNow, Owner: request.Owner)));

    public Task<CommandResult> DepositAsync(MoneyRequest request) =>
        ApplyAsync(request.Reference, $"deposit|{Money(request.Amount)}", state => Open(state, s => Decision.Accept(Next(s, EventKinds.Deposited, request.Amount, request.Reference))));

    public Task<CommandResult> WithdrawAsync(MoneyRequest request) =>
        ApplyAsync(request.Reference, $"withdraw|{Money(request.Amount)}", state => Open(state, s => Covers(s, request.Amount)
            ?? Decision.Accept(Next(s, EventKinds.Withdrawn, request.Amount, request.Reference))));

    public Task<CommandResult> DebitForTransferAsync(TransferLeg leg) =>
        ApplyAsync(leg.Reference, $"debit|{leg.TransferId}|{leg.CounterpartyId}|{Money(leg.Amount)}", state => Open(state, s => Covers(s, leg.Amount)
            ?? Decision.Accept(Next(s, EventKinds.TransferDebited, leg.Amount, leg.Reference) with { TransferId = leg.TransferId, CounterpartyId = leg.CounterpartyId })));

    public Task<CommandResult> CreditForTransferAsync(TransferLeg leg) =>
        ApplyAsync(leg.Reference, $"credit|{leg.TransferId}|{leg.CounterpartyId}|{Money(leg.Amount)}", state => Open(state, s =>
            Decision.Accept(Next(s, EventKinds.TransferCredited, leg.Amount, leg.Reference) with { TransferId = leg.TransferId, CounterpartyId = leg.CounterpartyId })));

    public Task<CommandResult> CompensateAsync(TransferLeg leg) =>
        ApplyAsync(leg.Reference, $"compensate|{leg.TransferId}|{leg.CounterpartyId}|{Money(leg.Amount)}", state => Open(state, s =>
            Decision.Accept(Next(s, EventKinds.TransferCompensated, leg.Amount, leg.Reference) with { TransferId = leg.TransferId, CounterpartyId = leg.CounterpartyId, Reason = leg.Reason })));

    /// <summary>Only an empty account can be closed, so closing never makes money disappear.</summary>
    public Task<CommandResult> CloseAsync(CloseRequest request) =>
        ApplyAsync(request.Reference, "close", state => Open(state, s => s.Balance != 0
            ? Decision.Reject("balance-not-zero", $"account {AccountId} still holds {s.Balance}; only an empty account can be closed")
            : Decision.Accept(new LedgerEvent(EventKinds.AccountClosed, AccountId, s.Sequence + 1, null, request.Reference, DateTimeOffset.UtcNow))));

    public async Task<AccountView?> GetAsync()
    {
        var state = await StateManager.TryGetStateAsync<AccountState>(AccountKey);
        return state.HasValue ? new AccountView(AccountId, state.Value.Owner, state.Value.Balance, state.Value.Sequence, state.Value.OpenedAt, state.Value.Closed) : null;
    }

    public async Task<IReadOnlyList<LedgerEvent>> GetEventsAsync(long fromSequence)
    {
        var state = await StateManager.TryGetStateAsync<AccountState>(AccountKey);
        var events = new List<LedgerEvent>();
        for (var s = Math.Max(1, fromSequence); state.HasValue && s <= state.Value.Sequence; s++)
        {
            events.Add(await StateManager.GetStateAsync<LedgerEvent>(EventKey(s)));
        }

        return events;
    }

    public Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period) =>
        reminderName == OutboxReminder ? FlushAsync() : Task.CompletedTask;

    private async Task<CommandResult> ApplyAsync(string reference, string fingerprint, Func<AccountState?, Decision> decide)
    {
        var prior = await StateManager.TryGetStateAsync<StoredOutcome>(ReferenceKey(reference));
        if (prior.HasValue)
        {
            // The same command again gets its first outcome; a different command under a used reference is refused.
            return prior.Value.Fingerprint == fingerprint
                ? prior.Value.Result
                : CommandResult.Rejected("reference-reused", $"reference {reference} was already used for a different command on account {AccountId}", null);
        }

        var current = await StateManager.TryGetStateAsync<AccountState>(AccountKey);
        var state = current.HasValue ? current.Value : null;
        var decision = decide(state);
        if (decision.Event is not { } e)
        {
            // A refused command changes nothing, not even the reference: a retry is decided afresh.
            return CommandResult.Rejected(decision.Error!, decision.Detail!, state);
        }

        var next = new AccountState(e.Owner ?? state!.Owner, (state?.Balance ?? 0) + EventKinds.Effect(e), e.Sequence, state?.OpenedAt ?? e.OccurredAt, e.Kind == EventKinds.AccountClosed);
        var result = new CommandResult(true, null, null, next.Sequence, next.Balance);
        await RegisterReminderAsync(OutboxReminder, [], TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        await StateManager.SetStateAsync(EventKey(e.Sequence), e);
        await StateManager.SetStateAsync(AccountKey, next);
        await StateManager.SetStateAsync(ReferenceKey(reference), new StoredOutcome(fingerprint, result));
        await StateManager.SaveStateAsync();
        LogAccepted(logger, e.Kind, AccountId, e.Sequence);
        await FlushAsync();
        return result;
    }

    /// <summary>Publishes every stored event not yet published, in order; stops at the first failure (the reminder retries).</summary>
    private async Task FlushAsync()
    {
        var account = await StateManager.TryGetStateAsync<AccountState>(AccountKey);
        var published = await StateManager.TryGetStateAsync<long>(PublishedKey);
        var next = (published.HasValue ? published.Value : 0) + 1;
        var last = account.HasValue ? account.Value.Sequence : 0;
        try
        {
            for (; next <= last; next++)
            {
                var e = await StateManager.GetStateAsync<LedgerEvent>(EventKey(next));
                await dapr.PublishEventAsync(LedgerNames.PubSub, LedgerNames.Topic, e, new Dictionary<string, string>
                {
                    ["partitionKey"] = AccountId,
                    ["cloudevent.type"] = $"ledger.{e.Kind}",
                });
                await StateManager.SetStateAsync(PublishedKey, next);
                await StateManager.SaveStateAsync();
            }
        }
        catch (Exception ex) when (ex is Dapr.DaprException or HttpRequestException)
        {
            LogPublishFailed(logger, ex, AccountId, next);
            return;
        }

        try
        {
            await UnregisterReminderAsync(OutboxReminder);
        }
        catch (Exception ex) when (ex is Dapr.DaprApiException or Dapr.DaprException)
        {
            // Not registered (nothing was pending): nothing to do.
        }
    }

    /// <summary>Amounts in fingerprints: 10 and 10.00 are the same command.</summary>
    private static string Money(decimal amount) => amount.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);

    private LedgerEvent Next(AccountState s, string kind, decimal amount, string reference) =>
        new(kind, AccountId, s.Sequence + 1, amount, reference, DateTimeOffset.UtcNow);

    private Decision Open(AccountState? state, Func<AccountState, Decision> then) =>
        state is null ? Decision.Reject("not-found", $"account {AccountId} does not exist")
        : state.Closed ? Decision.Reject("account-closed", $"account {AccountId} is closed")
        : then(state);

    private static Decision? Covers(AccountState s, decimal amount) =>
        s.Balance >= amount ? null : Decision.Reject("insufficient-funds", $"balance {s.Balance} does not cover {amount}");

    /// <summary>What a reference key holds: the command it was used for, and that command's outcome.</summary>
    internal sealed record StoredOutcome(string Fingerprint, CommandResult Result);

    private sealed record Decision(LedgerEvent? Event, string? Error, string? Detail)
    {
        public static Decision Accept(LedgerEvent e) => new(e, null, null);

        public static Decision Reject(string error, string detail) => new(null, error, detail);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Kind} stored for {AccountId} at sequence {Sequence}")]
    private static partial void LogAccepted(ILogger logger, string kind, string accountId, long sequence);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing {AccountId} event {Sequence} failed; the outbox reminder will retry")]
    private static partial void LogPublishFailed(ILogger logger, Exception error, string accountId, long sequence);
}
