using Dapr.Actors.Client;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.Ledger.Accounts;

namespace Platform.Ledger.Transfers;

public sealed record TransferCommand(string? FromAccountId, string? ToAccountId, decimal? Amount, string? Reference);

public static class TransfersApi
{
    public static void MapTransfersApi(this IEndpointRouteBuilder app) => app.MapPost("/transfers", Transfer);

    /// <summary>The reference names the transfer: sending it again returns the first outcome.</summary>
    public static async Task<Results<Ok<TransferResult>, ValidationProblem, ProblemHttpResult>> Transfer(TransferCommand command, IActorProxyFactory actors, IOptions<LedgerOptions> options)
    {
        if (AccountsApi.Invalid(LedgerRules.Transfer(command.FromAccountId, command.ToAccountId, command.Amount, command.Reference, options.Value.MaxAmount)) is { } invalid)
        {
            return invalid;
        }

        // A transfer to nowhere would debit, be refused the credit and compensate: two events for nothing. Refuse it
        // up front (an account is never deleted, so a retry of a transfer that got past this check passes it again).
        if (await actors.Account(command.ToAccountId!).GetAsync() is null)
        {
            return TypedResults.Problem(title: "not-found", detail: $"account {command.ToAccountId} does not exist", statusCode: 404,
                extensions: new Dictionary<string, object?> { ["rule"] = "not-found", ["transferId"] = command.Reference });
        }

        var result = await new TransferSaga(actors).RunAsync(command.Reference!, new TransferRequest(command.FromAccountId!, command.ToAccountId!, command.Amount!.Value));
        return result.Status == Steps.Rejected
            ? TypedResults.Problem(title: result.Error, detail: result.Detail, statusCode: result.Error == "not-found" ? 404 : 409,
                extensions: new Dictionary<string, object?> { ["rule"] = result.Error, ["transferId"] = result.TransferId })
            : TypedResults.Ok(result);
    }
}
