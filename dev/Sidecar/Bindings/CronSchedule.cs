using System.Globalization;
using Platform.Sidecar.Resources;

namespace Platform.Sidecar.Bindings;

/// <summary>
/// A <c>bindings.cron</c> schedule, read as components-contrib <c>bindings/cron</c> has dapr/kit's cron parser read
/// it (<c>SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor</c>; dapr/kit <c>cron/parser.go</c>,
/// <c>spec.go</c>): five fields (minute hour day-of-month month day-of-week) or six with seconds first; each field
/// <c>*</c>, <c>?</c>, <c>n</c>, <c>a-b</c>, <c>*/s</c>, <c>a-b/s</c>, <c>a/s</c> (a to the maximum) and lists of
/// these; month names <c>jan</c>..<c>dec</c> and day names <c>sun</c>..<c>sat</c> (any case); both day fields
/// restricted means either may match. Descriptors <c>@yearly</c>/<c>@annually</c>, <c>@monthly</c>,
/// <c>@weekly</c>, <c>@daily</c>/<c>@midnight</c>, <c>@hourly</c>, <c>@every &lt;Go duration&gt;</c>. A
/// <c>TZ=Zone</c> or <c>CRON_TZ=Zone</c> prefix sets the zone; otherwise the sidecar's local zone.
/// </summary>
internal sealed class CronSchedule
{
    private const ulong Star = 1UL << 63;

    private static readonly Dictionary<string, int> MonthNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["jan"] = 1, ["feb"] = 2, ["mar"] = 3, ["apr"] = 4, ["may"] = 5, ["jun"] = 6,
        ["jul"] = 7, ["aug"] = 8, ["sep"] = 9, ["oct"] = 10, ["nov"] = 11, ["dec"] = 12,
    };

    private static readonly Dictionary<string, int> DayNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sun"] = 0, ["mon"] = 1, ["tue"] = 2, ["wed"] = 3, ["thu"] = 4, ["fri"] = 5, ["sat"] = 6,
    };

    private readonly ulong _second, _minute, _hour, _dom, _month, _dow;
    private readonly TimeSpan? _every;
    private readonly TimeZoneInfo _zone;

    private CronSchedule(TimeZoneInfo zone, TimeSpan every)
    {
        _zone = zone;
        _every = every;
    }

    private CronSchedule(TimeZoneInfo zone, ulong second, ulong minute, ulong hour, ulong dom, ulong month, ulong dow)
    {
        _zone = zone;
        (_second, _minute, _hour, _dom, _month, _dow) = (second, minute, hour, dom, month, dow);
    }

    /// <summary>Reads a schedule; throws <see cref="FormatException"/> with the parser's reason.</summary>
    public static CronSchedule Parse(string spec)
    {
        if (spec.Length == 0)
        {
            throw new FormatException("empty spec string");
        }

        var zone = TimeZoneInfo.Local;
        if (spec.StartsWith("TZ=", StringComparison.Ordinal) || spec.StartsWith("CRON_TZ=", StringComparison.Ordinal))
        {
            var space = spec.IndexOf(' ', StringComparison.Ordinal);
            var eq = spec.IndexOf('=', StringComparison.Ordinal);
            var name = space < 0 ? spec[(eq + 1)..] : spec[(eq + 1)..space];
            try
            {
                zone = TimeZoneInfo.FindSystemTimeZoneById(name);
            }
            catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
            {
                throw new FormatException($"provided bad location {name}: {e.Message}");
            }

            spec = space < 0 ? "" : spec[space..].Trim();
        }

        if (spec.StartsWith('@'))
        {
            return Descriptor(spec, zone);
        }

        var fields = spec.Split([' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is < 5 or > 6)
        {
            throw new FormatException($"expected 5 to 6 fields, found {fields.Length}: [{string.Join(" ", fields)}]");
        }

        if (fields.Length == 5)
        {
            fields = ["0", .. fields];
        }

        return new CronSchedule(zone,
            Field(fields[0], 0, 59, null), Field(fields[1], 0, 59, null), Field(fields[2], 0, 23, null),
            Field(fields[3], 1, 31, null), Field(fields[4], 1, 12, MonthNames), Field(fields[5], 0, 6, DayNames));
    }

    private static CronSchedule Descriptor(string spec, TimeZoneInfo zone)
    {
        ulong All(int min, int max) => Bits(min, max, 1) | Star;
        switch (spec)
        {
            case "@yearly" or "@annually":
                return new CronSchedule(zone, 1, 1, 1, 1UL << 1, 1UL << 1, All(0, 6));
            case "@monthly":
                return new CronSchedule(zone, 1, 1, 1, 1UL << 1, All(1, 12), All(0, 6));
            case "@weekly":
                return new CronSchedule(zone, 1, 1, 1, All(1, 31), All(1, 12), 1);
            case "@daily" or "@midnight":
                return new CronSchedule(zone, 1, 1, 1, All(1, 31), All(1, 12), All(0, 6));
            case "@hourly":
                return new CronSchedule(zone, 1, 1, All(0, 23), All(1, 31), All(1, 12), All(0, 6));
        }

        const string every = "@every ";
        if (spec.StartsWith(every, StringComparison.Ordinal))
        {
            var text = spec[every.Length..];
            // Go's time.ParseDuration wants a unit on every number but a bare 0.
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || !GoDuration.TryParse(text, TimeSpan.Zero, out var duration))
            {
                throw new FormatException($"failed to parse duration {spec}: time: invalid duration \"{text}\"");
            }

            // dapr/kit's ConstantDelaySchedule would fire again at once for a zero interval; refuse it instead.
            return duration > TimeSpan.Zero ? new CronSchedule(zone, duration)
                : throw new FormatException($"{spec}: the interval must be above zero");
        }

        throw new FormatException($"unrecognized descriptor: {spec}");
    }

    private static ulong Field(string field, int min, int max, Dictionary<string, int>? names)
    {
        ulong bits = 0;
        foreach (var expr in field.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            bits |= Range(expr, min, max, names);
        }

        return bits;
    }

    private static ulong Range(string expr, int min, int max, Dictionary<string, int>? names)
    {
        var rangeAndStep = expr.Split('/');
        var lowAndHigh = rangeAndStep[0].Split('-');
        int start, end;
        ulong extra = 0;
        if (lowAndHigh[0] is "*" or "?")
        {
            (start, end, extra) = (min, max, Star);
        }
        else
        {
            start = IntOrName(lowAndHigh[0], names);
            end = lowAndHigh.Length switch
            {
                1 => start,
                2 => IntOrName(lowAndHigh[1], names),
                _ => throw new FormatException($"too many hyphens: {expr}"),
            };
        }

        var step = 1;
        switch (rangeAndStep.Length)
        {
            case 1:
                break;
            case 2:
                step = Int(rangeAndStep[1]);
                if (lowAndHigh.Length == 1)
                {
                    end = max; // "N/step" means "N-max/step"
                }

                if (step > 1)
                {
                    extra = 0;
                }

                break;
            default:
                throw new FormatException($"too many slashes: {expr}");
        }

        if (start < min)
        {
            throw new FormatException($"beginning of range ({start}) below minimum ({min}): {expr}");
        }

        if (end > max)
        {
            throw new FormatException($"end of range ({end}) above maximum ({max}): {expr}");
        }

        if (start > end)
        {
            throw new FormatException($"beginning of range ({start}) beyond end of range ({end}): {expr}");
        }

        if (step == 0)
        {
            throw new FormatException($"step of range should be a positive number: {expr}");
        }

        return Bits(start, end, step) | extra;
    }

    private static int IntOrName(string text, Dictionary<string, int>? names) =>
        names is not null && names.TryGetValue(text, out var n) ? n : Int(text);

    private static int Int(string text)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            throw new FormatException($"failed to parse int from {text}");
        }

        return n >= 0 ? n : throw new FormatException($"negative number ({n}) not allowed: {text}");
    }

    private static ulong Bits(int min, int max, int step)
    {
        ulong bits = 0;
        for (var i = min; i <= max; i += step)
        {
            bits |= 1UL << i;
        }

        return bits;
    }

    private static bool Has(ulong bits, int value) => (bits & (1UL << value)) != 0;

    /// <summary>The first time the schedule fires after <paramref name="after"/> (null: not within five years).</summary>
    public DateTimeOffset? Next(DateTimeOffset after)
    {
        if (_every is { } every)
        {
            return after + every; // dapr/kit ConstantDelaySchedule.Next: t.Add(delay)
        }

        // dapr/kit SpecSchedule.Next: from the next whole second, move to the first month, day, hour, minute and
        // second that match, in the schedule's zone.
        var local = TimeZoneInfo.ConvertTime(after, _zone).DateTime;
        var t = new DateTime(local.Ticks - (local.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Unspecified).AddSeconds(1);
        var limit = t.Year + 5;
        while (t.Year <= limit)
        {
            if (!Has(_month, t.Month))
            {
                t = new DateTime(t.Year, t.Month, 1, 0, 0, 0, DateTimeKind.Unspecified).AddMonths(1);
            }
            else if (!DayMatches(t))
            {
                t = t.Date.AddDays(1);
            }
            else if (!Has(_hour, t.Hour))
            {
                t = t.Date.AddHours(t.Hour + 1);
            }
            else if (!Has(_minute, t.Minute))
            {
                t = t.Date.AddHours(t.Hour).AddMinutes(t.Minute + 1);
            }
            else if (!Has(_second, t.Second))
            {
                t = t.AddSeconds(1);
            }
            else if (_zone.IsInvalidTime(t))
            {
                t = t.AddSeconds(1); // a wall-clock time the zone skips (DST)
            }
            else
            {
                return new DateTimeOffset(t, _zone.GetUtcOffset(t));
            }
        }

        return null;
    }

    /// <summary>dapr/kit <c>dayMatches</c>: if either day field is a star both must match, otherwise either.</summary>
    private bool DayMatches(DateTime t)
    {
        var dom = Has(_dom, t.Day);
        var dow = Has(_dow, (int)t.DayOfWeek);
        return (_dom & Star) != 0 || (_dow & Star) != 0 ? dom && dow : dom || dow;
    }
}
