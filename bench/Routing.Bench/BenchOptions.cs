using System.Globalization;

namespace Platform.Routing.Bench;

public sealed record BenchOptions(
    IReadOnlyList<string> Files,
    int BudgetMs,
    int Seeds,
    int Parallelism,
    int RoundMs,
    IReadOnlyList<string> Strategies,
    bool ScaleOut,
    IReadOnlyDictionary<string, long> BestKnown)
{
    public const string Usage = """
        usage: dotnet run -c Release --project bench/Routing.Bench -- [options] [file.tsp ...]
          file.tsp ...          TSPLIB files (EUC_2D, CEIL_2D, ATT); default: the shipped services/Routing/instances/*.tsp
          --budget-ms N         each job's budget (default 5000)
          --seeds N             jobs per instance and configuration, seeds 1..N (default 5)
          --parallelism K       sub-searches per round (default 2: one per replica)
          --round-ms N          Routing's round length (default 500)
          --strategies a,b      independent,restart (default both)
          --no-scale-out        skip the 1-replica run
          --best name=N         the best known length of an instance (else: a 'best known N' COMMENT, the TSPLIB
                                optima table, or the best this run finds)
          --quick               --budget-ms 2000 --seeds 2
        """;

    public static BenchOptions? Parse(string[] args)
    {
        var files = new List<string>();
        int budget = 5000, seeds = 5, parallelism = 2, roundMs = 500;
        string[] strategies = ["independent", "restart"];
        var scaleOut = true;
        var best = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            try
            {
                switch (args[i])
                {
                    case "--budget-ms": budget = Int(); break;
                    case "--seeds": seeds = Int(); break;
                    case "--parallelism": parallelism = Int(); break;
                    case "--round-ms": roundMs = Int(); break;
                    case "--strategies": strategies = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                    case "--no-scale-out": scaleOut = false; break;
                    case "--quick": (budget, seeds) = (2000, 2); break;
                    case "--best":
                        var kv = Next().Split('=');
                        best[kv[0]] = long.Parse(kv[1], CultureInfo.InvariantCulture);
                        break;
                    case "-h" or "--help": return null;
                    default:
                        if (args[i].StartsWith('-'))
                        {
                            throw new FormatException($"unknown option {args[i]}");
                        }

                        files.Add(args[i]);
                        break;
                }
            }
            catch (Exception e) when (e is FormatException or IndexOutOfRangeException or OverflowException)
            {
                Console.Error.WriteLine(e.Message);
                return null;
            }
        }

        return new BenchOptions(files, budget, seeds, parallelism, roundMs, strategies, scaleOut, best);
    }
}
