using Platform.Sidecar.Api;

namespace Platform.Sidecar.Tests.Security;

/// <summary>The constant-time comparison every token check (dapr-api-token, the internal token) goes through.</summary>
public sealed class TokenComparisonTests
{
    [Theory]
    [InlineData("s3cret", "s3cret", true)]
    [InlineData("s3cret", "s3creT", false)]
    [InlineData("s3cre", "s3cret", false)]
    [InlineData("s3cretx", "s3cret", false)]
    [InlineData("", "s3cret", false)]
    [InlineData(null, "s3cret", false)]
    [InlineData("ünïcode", "ünïcode", true)]
    public void Match_GivenAndExpected_TrueOnlyWhenEqual(string? given, string expected, bool match) =>
        Assert.Equal(match, Tokens.Match(given, expected));
}
