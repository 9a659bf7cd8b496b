using Microsoft.Extensions.Logging;

namespace Platform.Host.Running;

/// <summary>Writes a sidecar's log to the terminal as <c>[hello-1 dapr] …</c> lines in its service's colour.</summary>
internal sealed class TerminalLoggerProvider(Terminal terminal, string source, int colorCode, LogLevel minimum) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new TerminalLogger(terminal, source, colorCode, minimum);

    public void Dispose()
    {
    }

    private sealed class TerminalLogger(Terminal terminal, string source, int colorCode, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var level = logLevel switch
            {
                LogLevel.Warning => "warn: ",
                LogLevel.Error or LogLevel.Critical => "error: ",
                LogLevel.Debug or LogLevel.Trace => "debug: ",
                _ => "",
            };
            terminal.Write(source, colorCode, level + formatter(state, exception));
            if (exception is not null)
            {
                foreach (var line in exception.ToString().Split('\n'))
                {
                    terminal.Write(source, colorCode, "  " + line.TrimEnd('\r'));
                }
            }
        }
    }
}
