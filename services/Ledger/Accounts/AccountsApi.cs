using System.Text.RegularExpressions;
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
public static partial class AccountsApi
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
        var errors = new Dictionary<string, string[]>();
        var accountId = command.AccountId ?? $"acc-{Guid.NewGuid():N}"[..16];
        RequireId(errors, "accountId", accountId);
        RequireText(errors, "owner", command.Owner);
        RequireText(errors, "reference", command.Reference);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var result = await Account(actors, accountId).OpenAsync(new OpenRequest(command.Owner!, command.Reference!));
        if (!result.Accepted)
        {
            return Refused(result);
        }

        await actors.CreateActorProxy<IAccountDirectoryActor>(new ActorId(AccountDirectoryActor.DirectoryId), LedgerNames.DirectoryActor).AddAsync(accountId);
        return TypedResults.Created($"/accounts/{accountId}", result);
    }

    public static Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Deposit(string accountId, MoneyCommand command, IActorProxyFactory actors, IOptions<LedgerOptions> options) =>
        Money(accountId, command, options.Value, m => Account(actors, accountId).DepositAsync(m));

    public static Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Withdraw(string accountId, MoneyCommand command, IActorProxyFactory actors, IOptions<LedgerOptions> options) =>
        Money(accountId, command, options.Value, m => Account(actors, accountId).WithdrawAsync(m));

    public static async Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Close(string accountId, CloseAccount command, IActorProxyFactory actors)
    {
        var errors = new Dictionary<string, string[]>();
        RequireId(errors, "accountId", accountId);
        RequireText(errors, "reference", command.Reference);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var result = await Account(actors, accountId).CloseAsync(new CloseRequest(command.Reference!));
        return result.Accepted ? TypedResults.Ok(result) : Refused(result);
    }

    public static async Task<Results<Ok<AccountView>, NotFound<ProblemDetails>>> Get(string accountId, IActorProxyFactory actors) =>
        ValidId(accountId) && await Account(actors, accountId).GetAsync() is { } view
            ? TypedResults.Ok(view)
            : TypedResults.NotFound(new ProblemDetails { Title = "account not found", Detail = $"account {accountId} does not exist", Status = 404 });

    public static async Task<Results<Ok<IReadOnlyList<LedgerEvent>>, NotFound<ProblemDetails>, ValidationProblem>> Events(string accountId, IActorProxyFactory actors, long fromSequence = 1)
    {
        if (fromSequence < 1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["fromSequence"] = ["must be 1 or more"] });
        }

        if (!ValidId(accountId) || await Account(actors, accountId).GetAsync() is null)
        {
            return TypedResults.NotFound(new ProblemDetails { Title = "account not found", Detail = $"account {accountId} does not exist", Status = 404 });
        }

        return TypedResults.Ok(await Account(actors, accountId).GetEventsAsync(fromSequence));
    }

    public static async Task<Ok<IReadOnlyList<string>>> List(IActorProxyFactory actors) =>
        TypedResults.Ok(await actors.CreateActorProxy<IAccountDirectoryActor>(new ActorId(AccountDirectoryActor.DirectoryId), LedgerNames.DirectoryActor).ListAsync());

    private static async Task<Results<Ok<CommandResult>, ValidationProblem, ProblemHttpResult>> Money(string accountId, MoneyCommand command, LedgerOptions options, Func<MoneyRequest, Task<CommandResult>> send)
    {
        var errors = new Dictionary<string, string[]>();
        RequireId(errors, "accountId", accountId);
        RequireAmount(errors, "amount", command.Amount, options);
        RequireText(errors, "reference", command.Reference);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var result = await send(new MoneyRequest(command.Amount!.Value, command.Reference!));
        return result.Accepted ? TypedResults.Ok(result) : Refused(result);
    }

    internal static ProblemHttpResult Refused(CommandResult result) => TypedResults.Problem(
        title: result.Error,
        detail: result.Detail,
        statusCode: result.Error == "not-found" ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict,
        extensions: new Dictionary<string, object?> { ["rule"] = result.Error });

    internal static IAccountActor Account(IActorProxyFactory actors, string accountId) =>
        actors.CreateActorProxy<IAccountActor>(new ActorId(accountId), LedgerNames.AccountActor);

    internal static void RequireId(Dictionary<string, string[]> errors, string field, string? id)
    {
        if (!ValidId(id))
        {
            errors[field] = ["must be 1-64 characters: lower-case letters, digits and '-'"];
        }
    }

    internal static void RequireText(Dictionary<string, string[]> errors, string field, string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 100)
        {
            errors[field] = ["is required (at most 100 characters)"];
        }
    }

    internal static void RequireAmount(Dictionary<string, string[]> errors, string field, decimal? amount, LedgerOptions options)
    {
        if (amount is not { } a || a <= 0)
        {
            errors[field] = ["must be a positive amount"];
        }
        else if (decimal.Round(a, 2) != a)
        {
            errors[field] = ["must have at most 2 decimal places"];
        }
        else if (a > options.MaxAmount)
        {
            errors[field] = [$"must not exceed {options.MaxAmount}"];
        }
    }

    private static bool ValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    [GeneratedRegex("^[a-z0-9-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}
