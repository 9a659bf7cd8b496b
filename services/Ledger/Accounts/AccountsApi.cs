using Dapr.Actors;
using Dapr.Actors.Client;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Platform.Ledger.Accounts;

public sealed record OpenAccount(string? AccountId, string? Owner, string? Reference);

public sealed record MoneyCommand(decimal? Amount, string? Reference);

public sealed record CloseAccount(string? Reference);

/// <summary>Commands in (validated at the edge: nothing reaches an actor unless it is well-formed) and the event log out.</summary>
public static class AccountsApi
{
    public static void MapAccountsApi(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/accounts");
        accounts.MapPost("/", Open);
        accounts.MapGet("/", List);
        accounts.MapGet("/{accountId}", Get);
        accounts.MapPost("/{accountId}/deposits", Deposit);
        accounts.MapPost("/{accountId}/withdrawals", Withdraw);
        accounts.MapPost("/{accountId}/close", Close);
        accounts.MapGet("/{accountId}/events", Events);
    }

    public static async Task<Results<Created<CommandResult>, ValidationProblem, ProblemHttpResult>> Open(OpenAccount command, IActorProxyFactory actors)
    {
        var accountId = command.AccountId ?? $"acc-{Guid.NewGuid():N}"[..16];
        if (Invalid(LedgerRules.Id("accountId", accountId), LedgerRules.Text("owner", command.Owner), LedgerRules.Text("reference", command.Reference)) is { } invalid)
        {
            return invalid;
        }

        var result = await actors.Account(accountId).OpenAsync(new OpenRequest(command.Owner!, command.Reference!));
        if (!result.Accepted)
        {
            return Refused(result);
        }

        await actors.Directory().AddAsync(accountId);
        return TypedResults.Created($"/accounts/{accountId}", result);
    }

    public static Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Deposit(string accountId, MoneyCommand command, IActorProxyFactory actors, IOptions<LedgerOptions> options) =>
        Money(accountId, command, options.Value, m => actors.Account(accountId).DepositAsync(m));

    public static Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Withdraw(string accountId, MoneyCommand command, IActorProxyFactory actors, IOptions<LedgerOptions> options) =>
        Money(accountId, command, options.Value, m => actors.Account(accountId).WithdrawAsync(m));

    public static async Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Close(string accountId, CloseAccount command, IActorProxyFactory actors)
    {
        if (Invalid(LedgerRules.Id("accountId", accountId), LedgerRules.Text("reference", command.Reference)) is { } invalid)
        {
            return invalid;
        }

        var result = await actors.Account(accountId).CloseAsync(new CloseRequest(command.Reference!));
        return result.Accepted ? TypedResults.Ok(result) : Refused(result);
    }

    public static async Task<Results<Ok<AccountView>, NotFound<ProblemDetails>>> Get(string accountId, IActorProxyFactory actors) =>
        ValidId(accountId) && await actors.Account(accountId).GetAsync() is { } view
            ? TypedResults.Ok(view)
            : TypedResults.NotFound(new ProblemDetails { Title = "account not found", Detail = $"account {accountId} does not exist", Status = 404 });

    public static async Task<Results<Ok<IReadOnlyList<LedgerEvent>>, NotFound<ProblemDetails>, ValidationProblem>> Events(string accountId, IActorProxyFactory actors, long fromSequence = 1)
    {
        if (fromSequence < 1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["fromSequence"] = ["must be 1 or more"] });
        }

        if (!ValidId(accountId) || await actors.Account(accountId).GetAsync() is null)
        {
            return TypedResults.NotFound(new ProblemDetails { Title = "account not found", Detail = $"account {accountId} does not exist", Status = 404 });
        }

        return TypedResults.Ok(await actors.Account(accountId).GetEventsAsync(fromSequence));
    }

    public static async Task<Ok<IReadOnlyList<string>>> List(IActorProxyFactory actors) =>
        TypedResults.Ok(await actors.Directory().ListAsync());

    private static async Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Money(string accountId, MoneyCommand command, LedgerOptions options, Func<MoneyRequest, Task<CommandResult>> send)
    {
        if (Invalid(LedgerRules.Id("accountId", accountId), LedgerRules.Amount("amount", command.Amount, options.MaxAmount), LedgerRules.Text("reference", command.Reference)) is { } invalid)
        {
            return invalid;
        }

        var result = await send(new MoneyRequest(command.Amount!.Value, command.Reference!));
        return result.Accepted ? TypedResults.Ok(result) : Refused(result);
    }

    internal static ProblemHttpResult Refused(CommandResult result) => TypedResults.Problem(
        title: result.Error,
        detail: result.Detail,
        statusCode: result.Error switch
        {
            LedgerRules.NotFound => StatusCodes.Status404NotFound,
            // A rule the edge checks too, caught by the actor (a limit changed between the two): still bad input.
            LedgerRules.AmountRequired or LedgerRules.AmountNotPositive or LedgerRules.AmountPrecision or LedgerRules.AmountOverMaximum
                or LedgerRules.InvalidId or LedgerRules.SameAccount => StatusCodes.Status400BadRequest,
            { } e when e.EndsWith(LedgerRules.TextRequired, StringComparison.Ordinal) => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status409Conflict,
        },
        extensions: new Dictionary<string, object?> { ["rule"] = result.Error });

    /// <summary>
    /// The 400 for broken rules: <c>errors</c> names each field (as ASP.NET's validation problems do) and <c>codes</c>
    /// gives each field's code, the same code the actor answers when the command reaches it by another door.
    /// </summary>
    internal static ValidationProblem? Invalid(params LedgerRules.Violation?[] checks) => Invalid(checks.OfType<LedgerRules.Violation>());

    internal static ValidationProblem? Invalid(IEnumerable<LedgerRules.Violation> violations)
    {
        var byField = violations.GroupBy(v => v.Field).ToDictionary(g => g.Key, g => g.First());
        return byField.Count == 0 ? null : TypedResults.ValidationProblem(
            byField.ToDictionary(f => f.Key, f => new[] { f.Value.Message }),
            extensions: new Dictionary<string, object?> { ["codes"] = byField.ToDictionary(f => f.Key, f => f.Value.Code) });
    }

    private static bool ValidId(string? id) => LedgerRules.IsId(id);
}
