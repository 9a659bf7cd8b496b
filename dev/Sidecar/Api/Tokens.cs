using System.Security.Cryptography;
using System.Text;

namespace Platform.Sidecar.Api;

/// <summary>The one way the sidecar compares a secret token it was given with the one it expects.</summary>
internal static class Tokens
{
    /// <summary>
    /// True when <paramref name="given"/> is <paramref name="expected"/>, in time that does not depend on where they
    /// differ (<c>==</c> stops at the first different character, which a caller can time). Both sides are hashed
    /// first so that the length of the expected token does not show either.
    /// </summary>
    public static bool Match(string? given, string expected) =>
        given is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
