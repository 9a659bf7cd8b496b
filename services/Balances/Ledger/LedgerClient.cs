using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Balances.Ledger;

/// <summary>
/// The ledger's read API (the system of record), reached through our sidecar by app-id. A plain HttpClient with
/// Dapr's InvocationHandler (see BalancesSetup) is what the SDK recommends for invocation now that
/// DaprClient.InvokeMethodAsync is obsolete; the sidecar still does the routing and the resiliency.
/// </summary>
public sealed class LedgerClient(IHttpClientFactory http)
{
    public async Task<IReadOnlyList<string>> AccountsAsync(CancellationToken ct)
    {
        const string call = "GET /accounts";
        using var response = await SendAsync(call, "/accounts", ct);
        return await ReadAsync<List<string>>(call, response, ct) ?? [];
    }

    /// <summary>The account's events from <paramref name="fromSequence"/> on, in order; none for an account the ledger does not know.</summary>
    public async Task<IReadOnlyList<LedgerEvent>> EventsAsync(string accountId, long fromSequence, CancellationToken ct)
    {
        var call = $"GET /accounts/{accountId}/events?fromSequence={fromSequence.ToString(CultureInfo.InvariantCulture)}";
        using var response = await SendAsync(call, $"/accounts/{Uri.EscapeDataString(accountId)}/events?fromSequence={fromSequence.ToString(CultureInfo.InvariantCulture)}", ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        var items = await ReadAsync<List<JsonElement>>(call, response, ct) ?? [];
        return [.. items.Select(LedgerEvent.TryRead).OfType<LedgerEvent>()];
    }

    private async Task<HttpResponseMessage> SendAsync(string call, string path, CancellationToken ct)
    {
        try
        {
            return await http.CreateClient(Components.LedgerAppId).GetAsync(path, ct);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
        {
            throw new LedgerUnavailableException(call, e);
        }
    }

    private static async Task<T?> ReadAsync<T>(string call, HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new LedgerUnavailableException(call, new HttpRequestException($"answered {(int)response.StatusCode}", null, response.StatusCode));
        }

        try
        {
            return await response.Content.ReadFromJsonAsync<T>(JsonSerializerOptions.Web, ct);
        }
        catch (Exception e) when (e is JsonException or HttpRequestException)
        {
            throw new LedgerUnavailableException(call, e);
        }
    }
}

/// <summary>The ledger did not answer (or not usefully): the caller retries later, it never guesses.</summary>
public sealed class LedgerUnavailableException(string call, Exception inner)
    : Exception($"the ledger could not be reached ({call}): {inner.Message}", inner);
