# One image per C# service, built from the repository root (the build reads Directory.Build.props and the
# central package versions):
#   docker build -f deploy/docker/dotnet.Dockerfile --build-arg SERVICE=Ledger -t <registry>/platform/ledger:0.1.0 .
# SERVICE is the folder and project name under services/ (Ledger, Balances, Hello, Solver, Routing, Live).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG SERVICE
WORKDIR /src
COPY . .
RUN dotnet publish "services/${SERVICE}/${SERVICE}.csproj" -c Release -o /app --no-self-contained

# The aspnet image runs as the non-root user "app" and listens on ASPNETCORE_HTTP_PORTS (8080), which is what
# the manifests set and probe.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
ARG SERVICE
ENV SERVICE_DLL="Platform.${SERVICE}.dll"
USER $APP_UID
ENTRYPOINT ["sh", "-c", "exec dotnet \"$SERVICE_DLL\""]
