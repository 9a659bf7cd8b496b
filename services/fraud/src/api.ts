import type { Express, Request, Response } from "express";
import type { Settings } from "./config.js";
import { log } from "./log.js";
import { read, recentAlertsKey, SidecarError, type Dapr, type FraudStream, type RecentAlerts } from "./stream.js";

const defaultLimit = 20;
const maxLimit = 100;

/** GET /alerts, /stats, /health, /alive. Reached through the sidecar: /v1.0/invoke/fraud/method/alerts. */
export function mapFraudApi(app: Express, dapr: Dapr, stream: FraudStream, settings: Settings): void {
  app.get("/alerts", async (req: Request, res: Response) => {
    const text = typeof req.query["limit"] === "string" ? req.query["limit"] : undefined;
    const limit = text === undefined ? defaultLimit : Number(text);
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
      problem(res, 400, "Invalid limit", `limit must be a whole number from 1 to ${maxLimit}`);
      return;
    }
    try {
      const recent = (await read<RecentAlerts>(dapr, [recentAlertsKey])).get(recentAlertsKey)?.value;
      res.json((recent?.alerts ?? []).slice(0, limit));
    } catch (e) {
      log.warn("reading recent alerts failed", { error: e, cause: e instanceof SidecarError ? e.cause : undefined });
      problem(res, 503, "State store unavailable", "the recent alerts could not be read; try again");
    }
  });

  app.get("/stats", (_req: Request, res: Response) => {
    res.json(stream.stats);
  });

  // Readiness: this app is only useful with its sidecar (Kubernetes and Dapr probe it).
  app.get("/health", async (_req: Request, res: Response) => {
    try {
      const sidecar = await fetch(`http://${settings.daprHost}:${settings.daprHttpPort}/v1.0/healthz/outbound`, {
        signal: AbortSignal.timeout(2_000),
      });
      res.status(sidecar.ok ? 200 : 503).json({ status: sidecar.ok ? "Healthy" : "Unhealthy", sidecar: sidecar.status });
    } catch {
      res.status(503).json({ status: "Unhealthy", sidecar: "unreachable" });
    }
  });

  // Liveness: the process answers; a sidecar restart must not get this app restarted too.
  app.get("/alive", (_req: Request, res: Response) => {
    res.json({ status: "Healthy" });
  });
}

function problem(res: Response, status: number, title: string, detail: string): void {
  res.status(status).type("application/problem+json").send(JSON.stringify({ type: "about:blank", title, status, detail }));
}
