namespace Platform.Tsp;

/// <summary>
/// xoshiro256** (Blackman and Vigna), seeded through splitmix64. Our own generator rather than System.Random so a
/// seed gives the same search on every runtime version, and so the inner loop pays for no virtual call.
/// </summary>
public struct Rng
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public Rng(long seed)
    {
        var z = (ulong)seed;
        _s0 = SplitMix(ref z);
        _s1 = SplitMix(ref z);
        _s2 = SplitMix(ref z);
        _s3 = SplitMix(ref z);
    }

    public ulong Next()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform integer in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here).</summary>
    public int Below(int n) => (int)(((Next() >> 32) * (ulong)n) >> 32);

    /// <summary>A uniform double in (0, 1].</summary>
    public double Unit() => ((Next() >> 11) + 1) * (1.0 / (1UL << 53));

    private static ulong SplitMix(ref ulong z)
    {
        z += 0x9E3779B97F4A7C15;
        var r = z;
        r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9;
        r = (r ^ (r >> 27)) * 0x94D049BB133111EB;
        return r ^ (r >> 31);
    }
}
