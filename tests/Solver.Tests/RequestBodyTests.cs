using System.Net;
using System.Text;
using System.Text.Json;
using Platform.Optimizer.Testing;

namespace Platform.Solver.Tests;

/// <summary>The same body rules as every C# service (ServiceDefaults): no Content-Type is a 415 with a code, a number sent as a string a 400.</summary>
public sealed class RequestBodyTests
{
    private const string Body = """{"cities":[[0,0],[1,1],[2,2]],"budgetMs":100}""";

    [Fact]
    public async Task Search_WithoutContentType_415WithCode_NoSearchRun()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);

        using var response = await cluster.Solver.PostAsync("search", new ByteArrayContent(Encoding.UTF8.GetBytes(Body)));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnsupportedMediaType, $"{(int)response.StatusCode} {text}");
        Assert.Equal("unsupported-media-type", JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
        Assert.Equal(0, (await LoadAsync(cluster)).GetProperty("searches").GetInt64());
    }

    [Fact]
    public async Task Search_NumberAsString_400NamingTheField_NoSearchRun()
    {
        await using var cluster = await OptimizerCluster.StartAsync(solvers: 1, routing: false);

        using var response = await cluster.Solver.PostAsync("search",
            new StringContent("""{"cities":[[0,0],[1,1],[2,2]],"budgetMs":"100"}""", Encoding.UTF8, "application/json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("malformed-json", problem.GetProperty("code").GetString());
        Assert.Contains("$.budgetMs", problem.GetProperty("detail").GetString());
        Assert.Equal(0, (await LoadAsync(cluster)).GetProperty("searches").GetInt64());
    }

    private static async Task<JsonElement> LoadAsync(OptimizerCluster cluster) =>
        JsonDocument.Parse(await cluster.Solver.GetStringAsync("load")).RootElement.Clone();
}
