using System.Globalization;
using System.Text.RegularExpressions;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Actors;

/// <summary>
/// When a timer or reminder fires, read from the strings it was registered with, in the formats daprd accepts
/// (dapr/dapr <c>pkg/actors/internal/reminders</c>, <c>utils/time.go</c>): <c>dueTime</c> is a Go duration
/// (<c>0h0m5s0ms</c>, what the .NET SDK writes), an ISO-8601 duration (<c>PT5S</c>), an RFC 3339 time or empty (now);
/// <c>period</c> is a Go duration, an ISO-8601 duration with an optional repetition count (<c>R3/PT10S</c>: fire 3
/// times in all), <c>@every 10s</c>/<c>@daily</c>, or empty (fire once); <c>ttl</c> is a duration counted from the first due time, or an RFC 3339 time.
/// </summary>
public sealed partial record ActorSchedule(DateTimeOffset FirstDue, TimeSpan? Period, int? Repetitions, DateTimeOffset? ExpiresAt)
{
    [GeneratedRegex(@"^(?:R(?<r>\d+)/)?P(?:(?<y>\d+)Y)?(?:(?<mo>\d+)M)?(?:(?<w>\d+)W)?(?:(?<d>\d+)D)?(?:T(?:(?<h>\d+)H)?(?:(?<mi>\d+)M)?(?:(?<s>\d+(?:\.\d+)?)S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso8601();

    /// <summary>Reads the three strings; throws <see cref="FormatException"/> naming the field that cannot be read.</summary>
    public static ActorSchedule Parse(string? dueTime, string? period, string? ttl, DateTimeOffset registeredAt)
    {
        var due = registeredAt;
        dueTime = dueTime?.Trim() ?? "";
        if (dueTime.Length > 0)
        {
            if (TryParseTime(dueTime, out var at))
            {
                due = at;
            }
            else if (TryParseDuration(dueTime, allowRepetitions: false, out var d, out _))
            {
                due = registeredAt + d;
            }
            else
            {
                throw new FormatException($"dueTime '{dueTime}' is not a duration (e.g. 0h0m5s0ms, PT5S) or an RFC 3339 time");
            }
        }

        TimeSpan? every = null;
        int? repetitions = null;
        period = period?.Trim() ?? "";
        if (period.Length > 0)
        {
            if (!TryParseDuration(period, allowRepetitions: true, out var p, out repetitions))
            {
                throw new FormatException($"period '{period}' is not a duration (e.g. 0h0m10s0ms, PT10S, R3/PT10S, @every 10s)");
            }

            every = p > TimeSpan.Zero ? p : null;
        }

        DateTimeOffset? expires = null;
        ttl = ttl?.Trim() ?? "";
        if (ttl.Length > 0)
        {
            if (TryParseTime(ttl, out var at))
            {
                expires = at;
            }
            else if (TryParseDuration(ttl, allowRepetitions: false, out var t, out _))
            {
                expires = due + t; // daprd parses the TTL relative to the first due time (setReminderTimes)
            }
            else
            {
                throw new FormatException($"ttl '{ttl}' is not a duration or an RFC 3339 time");
            }

            if (expires < registeredAt || expires < due)
            {
                throw new FormatException($"it has already expired: first due {due:O}, ttl '{ttl}' ends {expires:O}");
            }
        }

        return new ActorSchedule(due, every, repetitions, expires);
    }

    /// <summary>
    /// The next time to fire after <paramref name="fired"/> firings, the last at <paramref name="lastFired"/>; null when
    /// done (one-shot fired, repetitions used up, or past the TTL). Periodic firings keep to the grid
    /// <c>FirstDue + n × Period</c>; firings missed while nobody hosted the actor are skipped, not replayed in a burst.
    /// </summary>
    public DateTimeOffset? Next(int fired, DateTimeOffset? lastFired)
    {
        if (Repetitions is { } r && fired >= r)
        {
            return null;
        }

        DateTimeOffset next;
        if (fired == 0)
        {
            next = FirstDue;
        }
        else if (Period is not { } p)
        {
            return null;
        }
        else
        {
            next = FirstDue + (p * fired);
            if (lastFired is { } last && next <= last)
            {
                var steps = Math.Floor((last - FirstDue) / p) + 1;
                next = FirstDue + (p * steps);
            }
        }

        return ExpiresAt is { } e && next > e ? null : next;
    }

    /// <summary>Go's <c>time.ParseDuration</c> forms: <c>1h2m3s4ms</c>, <c>150ms</c>, <c>0</c>.</summary>
    public static bool TryParseGoDuration(string text, out TimeSpan value)
    {
        text = text.Trim();
        if (text == "0")
        {
            value = TimeSpan.Zero;
            return true;
        }

        value = TimeSpan.Zero;
        return !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
            && GoDuration.TryParse(text, TimeSpan.FromMilliseconds(1), out value);
    }

    private static bool TryParseDuration(string text, bool allowRepetitions, out TimeSpan value, out int? repetitions)
    {
        repetitions = null;
        if (text.StartsWith('@'))
        {
            return TryParseShorthand(text, out value);
        }

        if (text.StartsWith('P') || text.StartsWith('R'))
        {
            var m = Iso8601().Match(text);
            value = TimeSpan.Zero;
            if (!m.Success || (m.Groups["r"].Success && !allowRepetitions))
            {
                return false;
            }

            double Part(string name) => m.Groups[name].Success ? double.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
            var days = (Part("y") * 365) + (Part("mo") * 30) + (Part("w") * 7) + Part("d");
            value = TimeSpan.FromDays(days) + TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("mi")) + TimeSpan.FromSeconds(Part("s"));
            repetitions = m.Groups["r"].Success ? int.Parse(m.Groups["r"].Value, CultureInfo.InvariantCulture) : null;
            return true;
        }

        return TryParseGoDuration(text, out value);
    }

    private static bool TryParseShorthand(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text.StartsWith("@every ", StringComparison.Ordinal))
        {
            return TryParseGoDuration(text["@every ".Length..], out value);
        }

        TimeSpan? fixedValue = text switch
        {
            "@hourly" => TimeSpan.FromHours(1),
            "@daily" or "@midnight" => TimeSpan.FromDays(1),
            "@weekly" => TimeSpan.FromDays(7),
            "@monthly" => TimeSpan.FromDays(30),
            "@yearly" or "@annually" => TimeSpan.FromDays(365),
            _ => null,
        };
        value = fixedValue ?? TimeSpan.Zero;
        return fixedValue is not null;
    }

    private static bool TryParseTime(string text, out DateTimeOffset value)
    {
        value = default;
        return text.Length >= 20 && text[4] == '-' && text.Contains('T', StringComparison.Ordinal)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }
}
