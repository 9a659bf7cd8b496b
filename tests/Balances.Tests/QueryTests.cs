namespace Platform.Balances.Tests;

/// <summary>The query API's answers to bad input and unknown accounts, through the sidecar.</summary>
public sealed class QueryTests
{
    [Fact]
    public async Task Statement_BadPaging_Returns400ProblemNamingTheField()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        var s = new StreamBuilder();
        await cluster.Ledger.PublishAsync(s.Open("q-1", "dee"));
        await cluster.WaitForSequenceAsync("q-1", 1);
        using var api = cluster.Api();

        foreach (var (query, field) in new[]
        {
            ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"),
            ("pageSize=0", "pageSize"), ("pageSize=101", "pageSize"), ("pageSize=x", "pageSize"), ("page=2&pageSize=", "pageSize"),
        })
        {
            using var response = await api.GetAsync($"/accounts/q-1/statement?{query}");
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{query}: {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var errors = problem.RootElement.GetProperty("errors");
            Assert.True(errors.TryGetProperty(field, out _), $"{query}: the problem names {field}: {errors}");
            Assert.Single(errors.EnumerateObject());
        }

        using var good = await api.GetAsync("/accounts/q-1/statement?page=1&pageSize=100");
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Fact]
    public async Task Queries_UnknownAccount_Return404Problem()
    {
        await using var cluster = await BalancesCluster.StartAsync(Backend.InMemory);
        using var api = cluster.Api();

        foreach (var path in new[] { "/accounts/nobody/balance", "/accounts/nobody/statement?page=1&pageSize=20" })
        {
            using var response = await api.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(404, problem.RootElement.GetProperty("status").GetInt32());
            Assert.Contains("nobody", problem.RootElement.GetProperty("detail").GetString());
        }

        var totals = await cluster.TotalsAsync();
        Assert.Equal((0L, 0m, 0L), (totals.Accounts, totals.TotalBalance, totals.EventsApplied));
    }
}
