using System.Globalization;
using System.Text.Json;

namespace Platform.Sidecar.PubSub;

/// <summary>
/// Evaluates subscription rule <c>match</c> expressions. daprd uses CEL with one variable, <c>event</c>, bound to
/// the CloudEvent (dapr/dapr <c>pkg/expr</c>). This is the subset routing rules use in practice: member
/// access (<c>event.type</c>, <c>event.data.amount</c>), string/number/bool/null literals, <c>== != &lt; &lt;= &gt; &gt;=</c>,
/// <c>&amp;&amp; || !</c>, parentheses and <c>.startsWith(..)</c>/<c>.endsWith(..)</c>/<c>.contains(..)</c>. Anything else is
/// rejected when the subscription is loaded, never silently mis-routed.
/// </summary>
public static class RouteMatch
{
    /// <summary>Compiles a match expression; throws <see cref="FormatException"/> when it is outside the subset.</summary>
    public static Func<JsonElement, bool> Compile(string expression)
    {
        if (string.IsNullOrWhiteSpace(expression))
        {
            return _ => true;
        }

        var parser = new Parser(expression);
        var node = parser.ParseExpression();
        parser.ExpectEnd();
        return e => Truthy(node(e));
    }

    private static bool Truthy(object? v) => v is true;

    private sealed class Parser(string text)
    {
        private int _pos;

        public void ExpectEnd()
        {
            SkipSpace();
            if (_pos < text.Length)
            {
                throw Error($"unexpected '{text[_pos..]}'");
            }
        }

        public Func<JsonElement, object?> ParseExpression() => ParseOr();

        private Func<JsonElement, object?> ParseOr()
        {
            var left = ParseAnd();
            while (Accept("||"))
            {
                var l = left;
                var r = ParseAnd();
                left = e => Truthy(l(e)) || Truthy(r(e));
            }

            return left;
        }

        private Func<JsonElement, object?> ParseAnd()
        {
            var left = ParseComparison();
            while (Accept("&&"))
            {
                var l = left;
                var r = ParseComparison();
                left = e => Truthy(l(e)) && Truthy(r(e));
            }

            return left;
        }

        private Func<JsonElement, object?> ParseComparison()
        {
            var left = ParseUnary();
            foreach (var op in new[] { "==", "!=", "<=", ">=", "<", ">" })
            {
                if (Accept(op))
                {
                    var r = ParseUnary();
                    var l = left;
                    return e => Compare(op, l(e), r(e));
                }
            }

            return left;
        }

        private Func<JsonElement, object?> ParseUnary()
        {
            if (Accept("!"))
            {
                var inner = ParseUnary();
                return e => !Truthy(inner(e));
            }

            return ParsePostfix(ParsePrimary());
        }

        private Func<JsonElement, object?> ParsePostfix(Func<JsonElement, object?> target)
        {
            while (Accept("."))
            {
                var name = Identifier();
                if (Accept("("))
                {
                    var arg = ParseExpression();
                    Expect(")");
                    var t = target;
                    Func<string, string, bool> f = name switch
                    {
                        "startsWith" => (a, b) => a.StartsWith(b, StringComparison.Ordinal),
                        "endsWith" => (a, b) => a.EndsWith(b, StringComparison.Ordinal),
                        "contains" => (a, b) => a.Contains(b, StringComparison.Ordinal),
                        _ => throw Error($"function '{name}' is not supported"),
                    };
                    target = e => t(e) is string a && arg(e) is string b && f(a, b);
                }
                else
                {
                    var t = target;
                    target = e => t(e) is JsonElement { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var p) ? Unwrap(p) : null;
                }
            }

            return target;
        }

        private Func<JsonElement, object?> ParsePrimary()
        {
            SkipSpace();
            if (Accept("("))
            {
                var inner = ParseExpression();
                Expect(")");
                return inner;
            }

            if (_pos < text.Length && text[_pos] is '"' or '\'')
            {
                var quote = text[_pos++];
                var end = text.IndexOf(quote, _pos);
                if (end < 0)
                {
                    throw Error("unterminated string");
                }

                var s = text[_pos..end];
                _pos = end + 1;
                return _ => s;
            }

            if (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] == '-'))
            {
                var start = _pos++;
                while (_pos < text.Length && (char.IsDigit(text[_pos]) || text[_pos] is '.' or 'e' or 'E'))
                {
                    _pos++;
                }

                var n = double.Parse(text[start.._pos], CultureInfo.InvariantCulture);
                return _ => n;
            }

            var id = Identifier();
            return id switch
            {
                "event" => e => e,
                "true" => _ => true,
                "false" => _ => false,
                "null" => _ => null,
                _ => throw Error($"unknown name '{id}' (only 'event' is defined)"),
            };
        }

        private string Identifier()
        {
            SkipSpace();
            var start = _pos;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_'))
            {
                _pos++;
            }

            return _pos > start ? text[start.._pos] : throw Error("expected a name");
        }

        private bool Accept(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _pos, token, 0, token.Length) != 0)
            {
                return false;
            }

            // "!" must not swallow the first character of "!=", nor "<" of "<=".
            if (token is "!" or "<" or ">" && _pos + 1 < text.Length && text[_pos + 1] == '=')
            {
                return false;
            }

            _pos += token.Length;
            return true;
        }

        private void Expect(string token)
        {
            if (!Accept(token))
            {
                throw Error($"expected '{token}'");
            }
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos]))
            {
                _pos++;
            }
        }

        private FormatException Error(string problem) => new($"match '{text}' at {_pos}: {problem}");
    }

    private static object? Unwrap(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => e,
    };

    private static bool Compare(string op, object? a, object? b)
    {
        if (op is "==" or "!=")
        {
            var eq = a switch
            {
                null => b is null,
                double x => b is double y && x == y,
                _ => Equals(a, b),
            };
            return op == "==" ? eq : !eq;
        }

        int? c = (a, b) switch
        {
            (double x, double y) => x.CompareTo(y),
            (string x, string y) => string.CompareOrdinal(x, y),
            _ => null,
        };
        return c is { } v && op switch
        {
            "<" => v < 0,
            "<=" => v <= 0,
            ">" => v > 0,
            _ => v >= 0,
        };
    }
}
