using System.Globalization;
using Dapr.Client;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Balances.ReadModel;

namespace Platform.Balances.Accounts;

/// <summary>One page of an account's statement, oldest line first.</summary>
public sealed record Statement(string AccountId, int Page, int PageSize, int TotalLines, int TotalPages, IReadOnlyList<StatementLine> Lines);

/// <summary>Queries on one account: its balance and its statement, from the live generation of the read model.</summary>
public static class AccountsApi
{
    private const int DefaultPageSize = 20;
    private const int MaxPageSize = 100;

    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/accounts/{accountId}").WithTags("Accounts");
        account.MapGet("/balance", GetBalance);
        account.MapGet("/statement", GetStatement);
        return app;
    }

    private static async Task<Results<Ok<AccountDoc>, ProblemHttpResult>> GetBalance(string accountId, DaprClient dapr, CancellationToken ct)
    {
        var account = await FindAsync(dapr, accountId, ct);
        return account is null ? UnknownAccount(accountId) : TypedResults.Ok(account.Value.Account);
    }

    // page and pageSize arrive as text so that "abc" gets the same 400 naming the field as "0" does.
    private static async Task<Results<Ok<Statement>, ValidationProblem, ProblemHttpResult>> GetStatement(
        string accountId, string? page, string? pageSize, DaprClient dapr, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var pageNumber = ParseWhole(page, nameof(page), 1, 1, int.MaxValue, errors);
        var size = ParseWhole(pageSize, nameof(pageSize), DefaultPageSize, 1, MaxPageSize, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        if (await FindAsync(dapr, accountId, ct) is not var (generation, account))
        {
            return UnknownAccount(accountId);
        }

        var from = (long)(pageNumber - 1) * size;
        var to = Math.Min(from + size, account.StatementLines);
        var lines = new List<StatementLine>();
        if (from < to)
        {
            var storagePages = await Task.WhenAll(Enumerable.Range(Keys.PageOf(from), Keys.PageOf(to - 1) - Keys.PageOf(from) + 1)
                .Select(p => dapr.GetStateAsync<StatementPage?>(Components.StateStore, Keys.Statement(generation, accountId, p), cancellationToken: ct)));
            var firstIndex = (long)(Keys.PageOf(from) - 1) * Keys.LinesPerPage;
            lines = [.. storagePages.SelectMany(p => p?.Lines ?? []).Skip((int)(from - firstIndex)).Take((int)(to - from))];
        }

        var totalPages = (account.StatementLines + size - 1) / size;
        return TypedResults.Ok(new Statement(accountId, pageNumber, size, account.StatementLines, totalPages, lines));
    }

    private static async Task<(int Generation, AccountDoc Account)?> FindAsync(DaprClient dapr, string accountId, CancellationToken ct)
    {
        if (!Keys.IsValidAccountId(accountId))
        {
            return null;
        }

        var pointer = await ModelPointer.ReadAsync(dapr, ct);
        var account = await dapr.GetStateAsync<AccountDoc?>(Components.StateStore, Keys.Account(pointer.Generation, accountId), cancellationToken: ct);
        return account is null ? null : (pointer.Generation, account);
    }

    private static ProblemHttpResult UnknownAccount(string accountId) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown account", detail: $"The read model has no account '{accountId}'.");

    private static int ParseWhole(string? text, string field, int fallback, int min, int max, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors[field] = [$"{field} must be a whole number from {min} to {max}; got '{text}'."];
        return fallback;
    }
}
