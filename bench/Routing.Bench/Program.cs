using Platform.Routing.Bench;

var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

return await new OptimizerBench(options).RunAsync() ? 0 : 1;
