using Dapr.Actors;
using Dapr.Actors.Runtime;
using Dapr.Client;
using Microsoft.Extensions.Options;
using Platform.Ledger.Transfers;

namespace Platform.Ledger.Accounts;

/// <summary>
/// An event-sourced account. A command is decided against the account's state; an accepted one becomes an event
/// stored in the actor's state together with the new state and the command's reference (one transaction), and
/// is then published on <c>ledger</c>. Storing and publishing cannot diverge: an <c>outbox</c> reminder is armed
/// before the first write that is not yet published, and stays armed until everything stored is published and
/// recorded in <c>published</c>; a reminder survives restarts, so if the process dies in between, the restarted
/// ledger publishes the rest. Consumers therefore see every event at least once (a crash can repeat the events
/// published since the last recorded mark; consumers apply by sequence). Repeating a reference returns the first
/// outcome and changes nothing.
/// </summary>
/// <remarks>
/// Why not Dapr's transactional outbox (state store metadata <c>outboxPublishPubsub</c>)? daprd applies it to the
/// state API's transactions only, not to actor state, and publishes every upsert of a transaction (here: event,
/// account and reference); it publishes to its internal topic before it commits, so a command would fail while the
/// broker is down; and its relay waits a second before each message (dapr/dapr <c>pkg/runtime/pubsub/outbox.go</c>,
/// <c>defaultStateScanDelay</c>). The reminder keeps commands accepted while the broker is away and costs one
/// register per burst of commands on an account, not two calls per command.
/// </remarks>
internal sealed partial class AccountActor(ActorHost host, DaprClient dapr, IOptions<LedgerOptions> options, ILogger<AccountActor> logger) : Actor(host), IAccountActor, IRemindable
{
    private const string AccountKey = "account";
    private const string PublishedKey = "published";
    private const string OutboxReminder = "outbox";

    private static readonly TimeSpan OutboxDelay = TimeSpan.FromSeconds(5);

    private static string EventKey(long sequence) => $"event-{sequence:D12}";

    private static string ReferenceKey(string reference) => $"ref-{reference}";

    // How far the log is published (in this activation) and how far that is recorded in state; and whether the
    // outbox reminder is known to be registered. Only this actor's turns touch them.
    private long _published;
    private long _publishedRecorded;
    private bool _outboxArmed;

    private string AccountId => Id.GetId();

    private decimal MaxAmount => options.Value.MaxAmount;

    protected override async Task OnActivateAsync()
    {
        var published = await StateManager.TryGetStateAsync<long>(PublishedKey);
        _published = _publishedRecorded = published.HasValue ? published.Value : 0;

        // After a crash, what was stored and not published goes out now (the reminder would also do it).
        if (await PublishPendingAsync())
        {
            await RecordPublishedAsync();
        }
    }

    // Every command is checked against the rules the API checks (LedgerRules) before anything else: the actor API
    // is a door of its own, and a refused command changes nothing.
    public Task<CommandResult> OpenAsync(OpenRequest request) =>
        Checked([LedgerRules.Id("accountId", AccountId), LedgerRules.Text("owner", request.Owner), LedgerRules.Text("reference", request.Reference)]) ??
        ApplyAsync(request.Reference, $"open|{request.Owner}", state => state is not null
            ? Decision.Reject(LedgerRules.AlreadyOpen, $"account {AccountId} is already open")
            : Decision.Accept(new LedgerEvent(EventKinds.AccountOpened, AccountId, 1, null, request.Reference, DateTimeOffset.UtcNow, Owner: request.Owner)));

    public Task<CommandResult> DepositAsync(MoneyRequest request) =>
        Checked(Money(request)) ??
        ApplyAsync(request.Reference, $"deposit|{Money(request.Amount)}", state => Open(state, s => Decision.Accept(Next(s, EventKinds.Deposited, request.Amount, request.Reference))));

    public Task<CommandResult> WithdrawAsync(MoneyRequest request) =>
        Checked(Money(request)) ??
        ApplyAsync(request.Reference, $"withdraw|{Money(request.Amount)}", state => Open(state, s => Covers(s, request.Amount)
            ?? Decision.Accept(Next(s, EventKinds.Withdrawn, request.Amount, request.Reference))));

    /// <summary>
    /// The source's leg: allowed only while the transfer is <c>started</c> with exactly this leg (asked before
    /// anything is written), then stored, then recorded with the transfer, which only then lets the target credit.
    /// The account's decision is final: a refusal (insufficient funds, closed) is stored under the leg's reference.
    /// </summary>
    public Task<CommandResult> DebitForTransferAsync(TransferLeg leg) =>
        Checked(Leg(leg, LegKinds.Debit)) ?? DebitAsync(leg);

    /// <summary>The target's leg: the transfer records the account's decision first (credit XOR compensation, once), then the account stores what it says.</summary>
    public Task<CommandResult> CreditForTransferAsync(TransferLeg leg) =>
        Checked(Leg(leg, LegKinds.Credit)) ?? CreditAsync(leg);

    /// <summary>Giving a debit back: only a debit this account stored, and only once the transfer says its credit was refused for good.</summary>
    public Task<CommandResult> CompensateAsync(TransferLeg leg) =>
        Checked(Leg(leg, LegKinds.Compensate)) ?? CompensateLegAsync(leg);

    /// <summary>Only an empty account can be closed, so closing never makes money disappear.</summary>
    public Task<CommandResult> CloseAsync(CloseRequest request) =>
        Checked([LedgerRules.Text("reference", request.Reference)]) ??
        ApplyAsync(request.Reference, "close", state => Open(state, s => s.Balance != 0
            ? Decision.Reject(LedgerRules.BalanceNotZero, $"account {AccountId} still holds {s.Balance}; only an empty account can be closed")
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

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName != OutboxReminder || !await PublishPendingAsync())
        {
            return;
        }

        // Everything stored is published: record it, then disarm (the next write arms it again).
        await RecordPublishedAsync();
        try
        {
            await UnregisterReminderAsync(OutboxReminder);
        }
        catch (Exception ex) when (ex is Dapr.DaprApiException or Dapr.DaprException)
        {
            // Not registered (a previous activation's firing): nothing to do.
        }

        _outboxArmed = false;
    }

    private async Task<CommandResult> ApplyAsync(string reference, string fingerprint, Func<AccountState?, Decision> decide)
    {
        if ((await PriorAsync(reference, fingerprint)).Answer is { } answer)
        {
            return answer;
        }

        var state = await StateAsync();
        var decision = decide(state);

        // A refused command changes nothing, not even the reference: a retry is decided afresh.
        return decision.Event is { } e ? await StoreAsync(reference, fingerprint, e, state) : CommandResult.Rejected(decision.Error!, decision.Detail!, state);
    }

    private async Task<CommandResult> DebitAsync(TransferLeg leg)
    {
        var fingerprint = LegFingerprint(LegKinds.Debit, leg);
        var (prior, answer) = await PriorAsync(leg.Reference, fingerprint);
        if (prior is not null)
        {
            // Stored, but the process may have died before the transfer heard of it: tell it again (idempotent).
            return await RecordDebitAsync(leg, prior.Result);
        }

        if (answer is not null)
        {
            return answer;
        }

        var state = await StateAsync();
        var decision = Open(state, s => Covers(s, leg.Amount) ?? Decision.Accept(Next(s, EventKinds.TransferDebited, leg.Amount, leg.Reference) with { TransferId = leg.TransferId, CounterpartyId = leg.CounterpartyId }));
        if (!(await Transfer(leg.TransferId).AuthorizeDebitAsync(Claim(LegKinds.Debit, leg, decision.Event is not null))).Authorized)
        {
            return NotDue(LegKinds.Debit, leg, state);
        }

        var outcome = decision.Event is { } e
            ? await StoreAsync(leg.Reference, fingerprint, e, state)
            : await StoreRefusalAsync(leg.Reference, fingerprint, CommandResult.Rejected(decision.Error!, decision.Detail!, state));
        return await RecordDebitAsync(leg, outcome);
    }

    private async Task<CommandResult> RecordDebitAsync(TransferLeg leg, CommandResult outcome)
    {
        var verdict = await Transfer(leg.TransferId).DecideAsync(Claim(LegKinds.Debit, leg, outcome.Accepted, outcome.Error, outcome.Detail));
        if (outcome.Accepted && !verdict.Apply)
        {
            // The transfer ended without this debit (only a forged record can do that): give the money back at once.
            var back = new TransferLeg(leg.TransferId, leg.CounterpartyId, leg.Amount, LedgerRules.LegReference(leg.TransferId, LegKinds.Compensate));
            var fingerprint = LegFingerprint(LegKinds.Compensate, back);
            if ((await PriorAsync(back.Reference, fingerprint)).Prior is null && await StateAsync() is { } state)
            {
                await StoreAsync(back.Reference, fingerprint, Next(state, EventKinds.TransferCompensated, back.Amount, back.Reference)
                    with { TransferId = back.TransferId, CounterpartyId = back.CounterpartyId, Reason = "the transfer ended without this debit" }, state);
            }
        }

        return outcome;
    }

    private async Task<CommandResult> CreditAsync(TransferLeg leg)
    {
        var fingerprint = LegFingerprint(LegKinds.Credit, leg);
        if ((await PriorAsync(leg.Reference, fingerprint)).Answer is { } answer)
        {
            return answer;
        }

        var state = await StateAsync();
        var decision = Open(state, s => Decision.Accept(Next(s, EventKinds.TransferCredited, leg.Amount, leg.Reference)));
        var verdict = await Transfer(leg.TransferId).DecideAsync(Claim(LegKinds.Credit, leg, decision.Event is not null, decision.Error, decision.Detail));
        if (!verdict.Authorized || (verdict.Apply && state is null))
        {
            return NotDue(LegKinds.Credit, leg, state);
        }

        // The transfer's verdict is what counts (it was recorded first): a credit it granted is applied even if this
        // account was closed since, so that the money that left the source is never lost.
        return verdict.Apply
            ? await StoreAsync(leg.Reference, fingerprint, Next(state!, EventKinds.TransferCredited, leg.Amount, leg.Reference) with { TransferId = leg.TransferId, CounterpartyId = leg.CounterpartyId }, state)
            : await StoreRefusalAsync(leg.Reference, fingerprint, CommandResult.Rejected(decision.Error ?? verdict.Error ?? "credit-refused", decision.Detail ?? verdict.Detail ?? "credit refused", state));
    }

    private async Task<CommandResult> CompensateLegAsync(TransferLeg leg)
    {
        var fingerprint = LegFingerprint(LegKinds.Compensate, leg);
        if ((await PriorAsync(leg.Reference, fingerprint)).Answer is { } answer)
        {
            return answer;
        }

        var state = await StateAsync();
        var debit = await StateManager.TryGetStateAsync<StoredOutcome>(ReferenceKey(LedgerRules.LegReference(leg.TransferId, LegKinds.Debit)));
        if (state is null || !debit.HasValue || !debit.Value.Result.Accepted || debit.Value.Fingerprint != LegFingerprint(LegKinds.Debit, leg)
            || !(await Transfer(leg.TransferId).DecideAsync(Claim(LegKinds.Compensate, leg, true)) is { Apply: true } verdict))
        {
            return NotDue(LegKinds.Compensate, leg, state);
        }

        // Money goes back where it came from, also to an account closed since (it was emptied by this very debit).
        return await StoreAsync(leg.Reference, fingerprint, Next(state, EventKinds.TransferCompensated, leg.Amount, leg.Reference)
            with { TransferId = leg.TransferId, CounterpartyId = leg.CounterpartyId, Reason = verdict.Detail }, state);
    }

    /// <summary>The first outcome stored under <paramref name="reference"/>: the same command gets it again; a different one is refused.</summary>
    private async Task<(StoredOutcome? Prior, CommandResult? Answer)> PriorAsync(string reference, string fingerprint)
    {
        var prior = await StateManager.TryGetStateAsync<StoredOutcome>(ReferenceKey(reference));
        return !prior.HasValue ? (null, null)
            : prior.Value.Fingerprint == fingerprint ? (prior.Value, prior.Value.Result)
            : (null, CommandResult.Rejected(LedgerRules.ReferenceReused, $"reference {reference} was already used for a different command on account {AccountId}", null));
    }

    private async Task<AccountState?> StateAsync()
    {
        var current = await StateManager.TryGetStateAsync<AccountState>(AccountKey);
        return current.HasValue ? current.Value : null;
    }

    /// <summary>
    /// The event, the new state and the reference's outcome in one transaction (with the publish mark so far);
    /// publishing follows. The outbox reminder is armed first, so a crash in between is covered.
    /// </summary>
    private async Task<CommandResult> StoreAsync(string reference, string fingerprint, LedgerEvent e, AccountState? state)
    {
        var next = new AccountState(e.Owner ?? state!.Owner, (state?.Balance ?? 0) + EventKinds.Effect(e), e.Sequence, state?.OpenedAt ?? e.OccurredAt,
            state?.Closed == true || e.Kind == EventKinds.AccountClosed);
        var result = new CommandResult(true, null, null, next.Sequence, next.Balance);
        if (!_outboxArmed)
        {
            await RegisterReminderAsync(OutboxReminder, [], OutboxDelay, OutboxDelay);
            _outboxArmed = true;
        }

        await StateManager.SetStateAsync(EventKey(e.Sequence), e);
        await StateManager.SetStateAsync(AccountKey, next);
        await StateManager.SetStateAsync(ReferenceKey(reference), new StoredOutcome(fingerprint, result));
        if (_published > _publishedRecorded)
        {
            await StateManager.SetStateAsync(PublishedKey, _published);
        }

        await StateManager.SaveStateAsync();
        _publishedRecorded = _published;
        LogAccepted(logger, e.Kind, AccountId, e.Sequence);
        if (options.Value.KillAfterStoring is { } crashAt && crashAt == reference)
        {
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }

        await PublishPendingAsync();
        return result;
    }

    /// <summary>A transfer leg's refusal is final (unlike a plain command's): stored under the leg's reference, so the leg can never be applied later.</summary>
    private async Task<CommandResult> StoreRefusalAsync(string reference, string fingerprint, CommandResult refusal)
    {
        await StateManager.SetStateAsync(ReferenceKey(reference), new StoredOutcome(fingerprint, refusal));
        await StateManager.SaveStateAsync();
        return refusal;
    }

    private ITransferActor Transfer(string transferId) =>
        ProxyFactory.Transfer(transferId);

    private LegClaim Claim(string kind, TransferLeg leg, bool accept, string? error = null, string? detail = null) =>
        new(kind, AccountId, leg.CounterpartyId, leg.Amount, accept, error, detail);

    private static string LegFingerprint(string kind, TransferLeg leg) => $"{kind}|{leg.TransferId}|{leg.CounterpartyId}|{Money(leg.Amount)}";

    private static CommandResult NotDue(string kind, TransferLeg leg, AccountState? state) => CommandResult.Rejected(LedgerRules.TransferNotAuthorized,
        $"no {kind} of {leg.Amount} with {leg.CounterpartyId} is due for transfer {leg.TransferId} (no such transfer, other accounts or amount, or not at that step)", state);

    /// <summary>The first broken rule as the refusal, with the API's code; null when the command may go on.</summary>
    private static Task<CommandResult>? Checked(IEnumerable<LedgerRules.Violation?> checks) =>
        checks.OfType<LedgerRules.Violation>().FirstOrDefault() is { } broken ? Task.FromResult(CommandResult.Rejected(broken.Code, broken.Detail, null)) : null;

    private IEnumerable<LedgerRules.Violation?> Money(MoneyRequest request) =>
        [LedgerRules.Amount("amount", request.Amount, MaxAmount), LedgerRules.Text("reference", request.Reference)];

    /// <summary>A leg names a valid transfer and counterparty, a valid amount, and the leg's own reference (<c>{transferId}:{leg}</c>), so idempotency is per leg.</summary>
    private IEnumerable<LedgerRules.Violation?> Leg(TransferLeg leg, string kind) =>
    [
        LedgerRules.Id("transferId", leg.TransferId),
        LedgerRules.Id("counterpartyId", leg.CounterpartyId),
        leg.CounterpartyId == AccountId ? new LedgerRules.Violation("counterpartyId", LedgerRules.SameAccount, "must differ from the account") : null,
        LedgerRules.Amount("amount", leg.Amount, MaxAmount),
        leg.Reference == LedgerRules.LegReference(leg.TransferId, kind) ? null
            : new LedgerRules.Violation("reference", LedgerRules.LegReferenceMismatch, $"must be {LedgerRules.LegReference(leg.TransferId, kind)}"),
    ];

    /// <summary>
    /// Publishes every stored event not yet published, in order, and moves the in-memory mark; stops at the first
    /// failure (the armed reminder retries). True when nothing stored is left unpublished.
    /// </summary>
    private async Task<bool> PublishPendingAsync()
    {
        var account = await StateManager.TryGetStateAsync<AccountState>(AccountKey);
        var last = account.HasValue ? account.Value.Sequence : 0;
        try
        {
            while (_published < last)
            {
                var e = await StateManager.GetStateAsync<LedgerEvent>(EventKey(_published + 1));
                await dapr.PublishEventAsync(LedgerNames.PubSub, LedgerNames.Topic, e, new Dictionary<string, string>
                {
                    ["partitionKey"] = AccountId,
                    ["cloudevent.type"] = $"ledger.{e.Kind}",
                });
                _published++;
            }

            return true;
        }
        catch (Exception ex) when (ex is Dapr.DaprException or HttpRequestException)
        {
            LogPublishFailed(logger, ex, AccountId, _published + 1);
            return false;
        }
    }

    /// <summary>Records the publish mark, so that a restart does not publish those events again.</summary>
    private async Task RecordPublishedAsync()
    {
        if (_published == _publishedRecorded)
        {
            return;
        }

        await StateManager.SetStateAsync(PublishedKey, _published);
        await StateManager.SaveStateAsync();
        _publishedRecorded = _published;
    }

    /// <summary>Amounts in fingerprints: 10 and 10.00 are the same command.</summary>
    private static string Money(decimal amount) => amount.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);

    private LedgerEvent Next(AccountState s, string kind, decimal amount, string reference) =>
        new(kind, AccountId, s.Sequence + 1, amount, reference, DateTimeOffset.UtcNow);

    private Decision Open(AccountState? state, Func<AccountState, Decision> then) =>
        state is null ? Decision.Reject(LedgerRules.NotFound, $"account {AccountId} does not exist")
        : state.Closed ? Decision.Reject(LedgerRules.AccountClosed, $"account {AccountId} is closed")
        : then(state);

    private static Decision? Covers(AccountState s, decimal amount) =>
        s.Balance >= amount ? null : Decision.Reject(LedgerRules.InsufficientFunds, $"balance {s.Balance} does not cover {amount}");

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
