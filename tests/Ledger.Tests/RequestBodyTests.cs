namespace Platform.Ledger.Tests;

/// <summary>
/// Bodies the ledger cannot take as they are, sent through its sidecar: no Content-Type at all (415 with a code, not
/// a 500), and a number written as a JSON string (400 naming the field: minimal APIs' web defaults would read "10"
/// as 10). Neither changes anything.
/// </summary>
public sealed class RequestBodyTests : IAsyncLifetime
{
    private LedgerFixture _f = null!;

    public async Task InitializeAsync() => _f = await LedgerFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private async Task<(string From, string To)> OpenTwoAsync()
    {
        var (from, to) = ($"acc-{Guid.NewGuid():N}"[..16], $"acc-{Guid.NewGuid():N}"[..16]);
        (await _f.Ledger.PostAsJsonAsync("accounts", new { accountId = from, owner = "alice", reference = $"open-{from}" })).EnsureSuccessStatusCode();
        (await _f.Ledger.PostAsJsonAsync("accounts", new { accountId = to, owner = "bob", reference = $"open-{to}" })).EnsureSuccessStatusCode();
        (await _f.Ledger.PostAsJsonAsync($"accounts/{from}/deposits", new { amount = 100m, reference = $"seed-{from}" })).EnsureSuccessStatusCode();
        return (from, to);
    }

    private async Task<string> StateAsync(params string[] ids)
    {
        var parts = new List<string>();
        foreach (var id in ids)
        {
            parts.Add(await _f.Ledger.GetStringAsync($"accounts/{id}"));
            parts.Add(await _f.Ledger.GetStringAsync($"accounts/{id}/events"));
        }

        return string.Join('\n', parts);
    }

    public static TheoryData<string, string> Commands => new()
    {
        { "accounts/{from}/deposits", """{"amount":10,"reference":"nc-1"}""" },
        { "accounts/{from}/withdrawals", """{"amount":10,"reference":"nc-2"}""" },
        { "transfers", """{"fromAccountId":"{from}","toAccountId":"{to}","amount":10,"reference":"nc-3"}""" },
        { "accounts", """{"accountId":"nc-new","owner":"o","reference":"nc-4"}""" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Post_WithoutContentType_415WithCode_NothingWritten(string path, string body)
    {
        var (from, to) = await OpenTwoAsync();
        var before = await StateAsync(from, to);
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.Replace("{from}", from).Replace("{to}", to)));
        Assert.Null(content.Headers.ContentType);

        using var response = await _f.Ledger.PostAsync(path.Replace("{from}", from), content);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnsupportedMediaType, $"{(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("unsupported-media-type", JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
        Assert.Equal(before, await StateAsync(from, to));
        Assert.Equal(HttpStatusCode.NotFound, (await _f.Ledger.GetAsync("accounts/nc-new")).StatusCode);
    }

    [Theory]
    [InlineData("accounts/{from}/deposits", """{"amount":"10","reference":"sn-1"}""")]
    [InlineData("accounts/{from}/withdrawals", """{"amount":"10.50","reference":"sn-2"}""")]
    [InlineData("transfers", """{"fromAccountId":"{from}","toAccountId":"{to}","amount":"10","reference":"sn-3"}""")]
    public async Task Post_NumberAsString_400NamingTheField_NothingWritten(string path, string body)
    {
        var (from, to) = await OpenTwoAsync();
        var before = await StateAsync(from, to);

        using var response = await _f.Ledger.PostAsync(path.Replace("{from}", from),
            new StringContent(body.Replace("{from}", from).Replace("{to}", to), Encoding.UTF8, "application/json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("malformed-json", problem.GetProperty("code").GetString());
        Assert.Contains("$.amount", problem.GetProperty("detail").GetString());
        Assert.Equal(before, await StateAsync(from, to));
    }
}
