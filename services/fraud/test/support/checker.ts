// A tiny subscriber app that records every FraudSuspected delivered on topic `alerts`, written against the
// plain HTTP app contract so it checks what goes over the wire. The tests run it as the fake Ledger's app.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FraudSuspected } from "../../src/alerts.js";

export interface Checker {
  port: number;
  /** Every delivery, in arrival order (a redelivered alert would appear twice). */
  received: { cloudEventId: string; type: string; alert: FraudSuspected }[];
  close: () => Promise<void>;
}

export async function startChecker(): Promise<Checker> {
  const received: Checker["received"] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/dapr/subscribe") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify([{ pubsubname: "pubsub", topic: "alerts", route: "/alerts" }]));
        return;
      }
      if (req.method === "POST" && req.url === "/alerts") {
        const envelope = JSON.parse(body) as { id: string; type: string; data: FraudSuspected };
        received.push({ cloudEventId: envelope.id, type: envelope.type, alert: envelope.data });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: "SUCCESS" }));
        return;
      }
      res.statusCode = 404;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
