import { CommunicationProtocolEnum, type DaprServer, LogLevel } from "@dapr/dapr";
import type { Express } from "express";
import type { Settings } from "./config.js";

/** How the Dapr server is set up: our express app on APP_HOST:APP_PORT, the sidecar from the settings. */
export function serverOptions(settings: Settings, app: Express): ConstructorParameters<typeof DaprServer>[0] & { serverHost: string; serverPort: string } {
  return {
    serverHost: settings.appHost,
    serverPort: String(settings.appPort),
    serverHttp: app,
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    clientOptions: { daprHost: settings.daprHost, daprPort: String(settings.daprHttpPort) },
    logger: { level: LogLevel.Warn },
  };
}
