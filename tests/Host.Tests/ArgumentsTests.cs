using Platform.Host.Running;

namespace Platform.Host.Tests;

public sealed class ArgumentsTests
{
    [Theory]
    [InlineData("", new string[0])]
    [InlineData("  --a   b ", new[] { "--a", "b" })]
    [InlineData("--mode \"fast and loose\" 'x y'", new[] { "--mode", "fast and loose", "x y" })]
    [InlineData("a\\ b \"say \\\"hi\\\"\"", new[] { "a b", "say \"hi\"" })]
    [InlineData("--empty \"\"", new[] { "--empty", "" })]
    public void Split_ShellLikeText_GivesTheArguments(string text, string[] expected)
    {
        Assert.Equal(expected, Arguments.Split(text));
    }

    [Fact]
    public void Split_UnclosedQuote_Throws()
    {
        Assert.Throws<FormatException>(() => Arguments.Split("--x \"open"));
    }
}
