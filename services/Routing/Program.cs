using Platform.Routing;

RoutingApp.Build(args).Run();
