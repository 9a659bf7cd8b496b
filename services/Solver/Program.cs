using Platform.Solver;

SolverApp.Build(args).Run();
