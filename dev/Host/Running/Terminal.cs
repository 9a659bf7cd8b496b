namespace Platform.Host.Running;

/// <summary>
/// The host's one output: every line prefixed with who wrote it (<c>[ledger-1]</c>, <c>[ledger-1 dapr]</c>,
/// <c>[host]</c>), coloured per service on a terminal, plain when redirected or when <c>NO_COLOR</c> is set,
/// written whole under one lock so lines of different processes never interleave mid-line.
/// </summary>
internal sealed class Terminal(TextWriter output, bool color)
{
    // ANSI foreground colours that read well on dark and light backgrounds.
    private static readonly int[] Palette = [36, 32, 33, 35, 34, 96, 92, 93, 95, 94];

    private readonly Lock _gate = new();

    public static Terminal ForConsole() =>
        new(Console.Out, !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null or "");

    public static int ColorOf(int serviceIndex) => Palette[serviceIndex % Palette.Length];

    public void Host(string message) => Write("host", 1, message);

    public void Write(string source, int colorCode, string text)
    {
        var line = color ? $"\u001b[{colorCode}m[{source}]\u001b[0m {text}" : $"[{source}] {text}";
        lock (_gate)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    /// <summary>Several lines written together (the status table, a failed replica's last output).</summary>
    public void Block(IEnumerable<string> lines)
    {
        lock (_gate)
        {
            foreach (var line in lines)
            {
                output.WriteLine(line);
            }

            output.Flush();
        }
    }
}
