import { DaprServer } from "@dapr/dapr";
import express from "express";
import { mapFraudApi } from "./api.js";
import { ConfigError, loadSettings, type Settings } from "./config.js";
import { log } from "./log.js";
import { PubSub, Topics } from "./names.js";
import { serverOptions } from "./server.js";
import { FraudStream } from "./stream.js";

let settings: Settings;
try {
  settings = loadSettings();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`fraud: ${e.message}`);
    process.exit(2);
  }
  throw e;
}

// Our own express app, so the HTTP endpoints can answer with real status codes; the SDK adds its routes to it.
const app = express();
const server = new DaprServer(serverOptions(settings, app));

const stream = new FraudStream(server.client, settings.rules);
mapFraudApi(app, server.client, stream, settings);
// Fraud's consumer group on `ledger` is its app-id: it gets every event, whatever Balances and Live consume.
await server.pubsub.subscribe(PubSub, Topics.ledger, (data: unknown) => stream.onLedgerEvent(data), "ledger");

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    log.info("stopping", { signal });
    void server.stop().finally(() => process.exit(0));
  });
}

await server.start();
log.info("fraud started", { appHost: settings.appHost, appPort: settings.appPort, daprHttpPort: settings.daprHttpPort, rules: settings.rules });
