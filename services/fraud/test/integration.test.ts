// End to end on real infrastructure: redis-server, the sidecar CLI in front of the fraud app (Redis pub/sub and
// state), and a fake Ledger: a `ledger` sidecar the JS SDK publishes through, whose tiny app records every
// alert delivered on `alerts` (one sidecar fewer to start than a separate checker app-id).
import { CommunicationProtocolEnum, DaprClient, HttpMethod, LogLevel } from "@dapr/dapr";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FraudSuspected } from "../src/alerts.js";
import type { Stats } from "../src/stream.js";
import { startChecker, type Checker } from "./support/checker.js";
import {
  GaveUp,
  Processes,
  freePort,
  redisComponents,
  sidecarDll,
  startFraud,
  startRedis,
  startSidecar,
  until,
  type Sidecar,
} from "./support/processes.js";

const t0 = Date.parse("2026-11-24T02:40:00Z");
const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();

describe("fraud behind the sidecar, on Redis", () => {
  const processes = new Processes();
  let ledger: DaprClient;
  let checker: Checker;
  let fraudSidecar: Sidecar;

  before(async () => {
    try {
      sidecarDll(); // fails first, with how to build it
      const redisPort = await startRedis(processes);
      const resources = redisComponents(processes, redisPort);
      const registry = processes.tempDir("fraud-registry-");
      checker = await startChecker();
      const appPort = await freePort();
      let ledgerSidecar: Sidecar;
      [fraudSidecar, ledgerSidecar] = await Promise.all([
        startSidecar(processes, { appId: "fraud", appPort, resources, registry }),
        startSidecar(processes, { appId: "ledger", appPort: checker.port, resources, registry }),
      ]);
      const fraud = startFraud(processes, appPort, fraudSidecar);
      ledger = new DaprClient({
        daprHost: "127.0.0.1",
        daprPort: String(ledgerSidecar.httpPort),
        communicationProtocol: CommunicationProtocolEnum.HTTP,
        logger: { level: LogLevel.Error },
      });

      await until("fraud to be healthy through the ledger's sidecar", async () => {
        const ended = fraud.ended();
        if (ended) {
          throw new GaveUp(ended);
        }
        const res = await fetch(`${ledgerSidecar.url}/v1.0/invoke/fraud/method/health`);
        return res.status === 200 ? true : undefined;
      }, 30_000);
      await until("the ledger and alerts subscriptions", async () => {
        const topics = await Promise.all(
          [fraudSidecar, ledgerSidecar].map(async (s) => {
            const metadata = (await (await fetch(`${s.url}/v1.0/metadata`)).json()) as { subscriptions?: { topic: string }[] };
            return (metadata.subscriptions ?? []).map((sub) => sub.topic);
          }),
        );
        return topics[0]!.includes("ledger") && topics[1]!.includes("alerts") ? true : undefined;
      });
    } catch (e) {
      await processes.stopAll();
      throw new Error(`${String(e)}\n${processes.logs()}`);
    }
  });

  after(async () => {
    await ledger?.stop();
    await checker?.close();
    await processes.stopAll();
  });

  const publish = async (data: unknown, contentType?: string) => {
    const kind = typeof data === "object" && data !== null ? (data as { kind?: string }).kind : undefined;
    const result = await ledger.pubsub.publish("pubsub", "ledger", data as object, {
      ...(contentType ? { contentType } : {}),
      ...(kind ? { metadata: { "cloudevent.type": `ledger.${kind}` } } : {}),
    });
    assert.equal(result.error, undefined, `publish failed: ${String(result.error)}`);
  };

  const stats = async () => (await ledger.invoker.invoke("fraud", "stats", HttpMethod.GET)) as Stats;

  /** Waits until fraud counted `done(stats)` and the checker has every alert fraud published. */
  const settled = async (what: string, done: (s: Stats) => boolean): Promise<Stats> => {
    const s = await until(what, async () => {
      const current = await stats();
      return done(current) ? current : undefined;
    });
    await until(`the checker to receive all ${s.alertsPublished} alerts`, () =>
      checker.received.length >= s.alertsPublished ? true : undefined,
    );
    return s;
  };

  const alertsFor = (accountId: string, rule: string) => checker.received.filter((r) => r.alert.accountId === accountId && r.alert.rule === rule);

  const burst = (accountId: string) => [
    { kind: "AccountOpened", accountId, sequence: 1, owner: "u-1", reference: "open", occurredAt: at(0) },
    ...Array.from({ length: 8 }, (_, i) => ({
      kind: "Withdrawn",
      accountId,
      sequence: i + 2,
      amount: 10.5,
      reference: `w-${i}`,
      occurredAt: at(10 + i),
    })),
  ];

  test("a burst of withdrawals raises exactly one velocity alert", async () => {
    const before = await stats();
    for (const event of burst("acc-burst")) {
      await publish(event);
    }
    await settled("the burst to be applied", (s) => s.processed >= before.processed + 9);

    const velocity = alertsFor("acc-burst", "velocity");
    assert.equal(velocity.length, 1, `expected one velocity alert, got ${JSON.stringify(velocity)}\n${processes.logs()}`);
    const [{ alert, cloudEventId, type }] = velocity as [(typeof velocity)[number]];
    assert.equal(cloudEventId, alert.alertId);
    assert.equal(type, "fraud.FraudSuspected");
    // Pub/sub has no order: whichever withdrawal is the sixth to be applied raises it (a CI run saw sequence 6 come
    // after 7), so the alert names one of the burst's withdrawals and counts more than five debits.
    assert.ok(alert.sequence >= 2 && alert.sequence <= 9, `a withdrawal of the burst (sequences 2–9) raises it, got ${alert.sequence}`);
    assert.ok((alert.details["debits"] as number) > 5, `more than five debits in the window, got ${String(alert.details["debits"])}`);

    const listed = (await ledger.invoker.invoke("fraud", "alerts?limit=100", HttpMethod.GET)) as FraudSuspected[];
    assert.deepEqual(
      listed.filter((a) => a.accountId === "acc-burst").map((a) => a.alertId),
      [alert.alertId],
    );
  });

  test("redelivered duplicates do not raise a second alert", async () => {
    const before = await stats();
    for (const event of burst("acc-burst")) {
      await publish(event);
    }
    const after = await settled("the duplicates to be seen", (s) => s.duplicates >= before.duplicates + 9);

    assert.equal(after.processed, before.processed);
    assert.equal(after.alertsPublished, before.alertsPublished);
    assert.equal(alertsFor("acc-burst", "velocity").length, 1);
  });

  test("a malformed event is dropped and processing continues", async () => {
    const before = await stats();
    await publish("this is not json {", "text/plain");
    await publish({ kind: "Withdrawn", accountId: "acc-bad", amount: 5, occurredAt: at(0) }); // no sequence
    await publish({ kind: "Withdrawn", accountId: "acc-bad", sequence: 2, amount: -5, reference: "r", occurredAt: at(1) });
    await publish({ kind: "InterestAccrued", accountId: "acc-bad", sequence: 3, amount: 1, occurredAt: at(2) });
    const accountId = "acc-after-bad";
    const events = [
      { kind: "AccountOpened", accountId, sequence: 1, owner: "u-2", reference: "open", occurredAt: at(0) },
      ...[10, 12, 8].map((amount, i) => ({ kind: "Withdrawn", accountId, sequence: i + 2, amount, reference: `w-${i}`, occurredAt: at(600 * (i + 1)) })),
      { kind: "Withdrawn", accountId, sequence: 5, amount: 101, reference: "big", occurredAt: at(3_000) },
    ];
    for (const event of events) {
      await publish(event);
    }

    const after = await settled("the bad events to be dropped and the good ones applied", (s) =>
      s.dropped >= before.dropped + 3 && s.processed >= before.processed + 5,
    );
    assert.equal(after.dropped, before.dropped + 3);
    assert.equal(after.unrecognized, before.unrecognized + 1);
    assert.equal(after.retried, before.retried);
    const unusual = alertsFor(accountId, "unusual-amount");
    assert.equal(unusual.length, 1);
    assert.equal(unusual[0]!.alert.sequence, 5);
    assert.deepEqual(unusual[0]!.alert.details, { amount: 101, meanDebit: 10, factor: 10, earlierDebits: 3 });
  });
});
