import { DaprPubSubStatusEnum } from "@dapr/dapr";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AccountState } from "../src/account.js";
import type { FraudSuspected } from "../src/alerts.js";
import { defaultRules } from "../src/config.js";
import { accountKey, FraudStream, recentAlertsKey, type RecentAlerts } from "../src/stream.js";
import { opened, seconds, withdrawn } from "./support/events.js";
import { FakeDapr } from "./support/fake-dapr.js";

const { SUCCESS, RETRY, DROP } = DaprPubSubStatusEnum;
process.env["FRAUD_LOG_LEVEL"] = "error"; // the handler logs every drop and retry these tests cause

/** Opened, then seven withdrawals in seven seconds: the sixth (sequence 7) is one too many. */
const burst = (accountId: string) => [opened(accountId, 1, seconds(0)), ...[2, 3, 4, 5, 6, 7, 8].map((n) => withdrawn(accountId, n, 10, seconds(n)))];

const deliverAll = async (stream: FraudStream, events: unknown[]) => {
  const statuses = [];
  for (const event of events) {
    statuses.push(await stream.onLedgerEvent(event));
  }
  return statuses;
};

const alertsOn = (dapr: FakeDapr) => dapr.published.filter((p) => p.topic === "alerts").map((p) => p.data as FraudSuspected);

describe("the ledger stream handler", () => {
  test("applies events, publishes the alert on `alerts` and lists it", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    const statuses = await deliverAll(stream, burst("a"));

    assert.ok(statuses.every((s) => s === SUCCESS));
    const [alert, ...more] = alertsOn(dapr);
    assert.deepEqual(more, []);
    assert.equal(alert!.rule, "velocity");
    assert.equal(alert!.sequence, 7);
    assert.deepEqual(dapr.published[0]!.metadata, { "cloudevent.type": "fraud.FraudSuspected", "cloudevent.id": alert!.alertId });
    assert.deepEqual(dapr.get<RecentAlerts>(recentAlertsKey)!.alerts, [alert]);
    assert.deepEqual(dapr.get<AccountState>(accountKey("a"))!.pendingAlerts, []);
    assert.equal(stream.stats.processed, 8);
  });

  test("the same events again are duplicates: nothing counted twice, no second alert", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    await deliverAll(stream, burst("a"));
    const statuses = await deliverAll(stream, burst("a"));

    assert.ok(statuses.every((s) => s === SUCCESS));
    assert.equal(stream.stats.duplicates, 8);
    assert.equal(alertsOn(dapr).length, 1);
    assert.equal(dapr.get<AccountState>(accountKey("a"))!.debitCount, 7);
  });

  test("malformed events are dropped without touching the state store", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    assert.equal(await stream.onLedgerEvent("{oops"), DROP);
    assert.equal(await stream.onLedgerEvent({ kind: "Withdrawn", accountId: "a" }), DROP);
    assert.equal(await stream.onLedgerEvent(withdrawn("a", 2, -1, seconds(0))), DROP);
    assert.equal(stream.stats.dropped, 3);
    assert.equal(dapr.items.size, 0);
  });

  test("unknown kinds are skipped and counted", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    assert.equal(await stream.onLedgerEvent({ kind: "InterestAccrued", accountId: "a", sequence: 9 }), SUCCESS);
    assert.equal(stream.stats.unrecognized, 1);
  });

  test("a state store failure asks for redelivery, and the redelivery applies the event once", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    await deliverAll(stream, burst("a").slice(0, 6));

    dapr.failReads = 1;
    const sixth = withdrawn("a", 7, 10, seconds(7));
    assert.equal(await stream.onLedgerEvent(sixth), RETRY);
    dapr.failSaves = 1;
    assert.equal(await stream.onLedgerEvent(sixth), RETRY);
    assert.equal(await stream.onLedgerEvent(sixth), SUCCESS);

    assert.equal(stream.stats.retried, 2);
    assert.equal(alertsOn(dapr).length, 1);
    assert.equal(dapr.get<AccountState>(accountKey("a"))!.debitCount, 6);
  });

  test("an alert saved but not published goes out with the redelivery, exactly once", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    await deliverAll(stream, burst("a").slice(0, 6));

    dapr.failPublishes = 1;
    const sixth = withdrawn("a", 7, 10, seconds(7));
    assert.equal(await stream.onLedgerEvent(sixth), RETRY);
    assert.equal(alertsOn(dapr).length, 0);
    assert.equal(dapr.get<AccountState>(accountKey("a"))!.pendingAlerts.length, 1);

    assert.equal(await stream.onLedgerEvent(sixth), SUCCESS);
    assert.equal(stream.stats.duplicates, 1);
    assert.equal(alertsOn(dapr).length, 1);
    assert.deepEqual(dapr.get<AccountState>(accountKey("a"))!.pendingAlerts, []);
    assert.equal(dapr.get<RecentAlerts>(recentAlertsKey)!.alerts.length, 1);
  });

  test("two replicas on one store lose no update and raise one alert", async () => {
    const dapr = new FakeDapr();
    const replicas = [new FraudStream(dapr.asDapr(), defaultRules), new FraudStream(dapr.asDapr(), defaultRules)];
    const events = [opened("a", 1, seconds(0)), ...Array.from({ length: 12 }, (_, i) => withdrawn("a", i + 2, 10, seconds(i + 1)))];
    await deliverAll(replicas[0]!, events.slice(0, 1));

    // Competing consumers: every other event to the other replica, all in flight at once.
    const statuses = await Promise.all(events.slice(1).map((e, i) => replicas[i % 2]!.onLedgerEvent(e)));

    assert.ok(statuses.every((s) => s === SUCCESS));
    const account = dapr.get<AccountState>(accountKey("a"))!;
    assert.equal(account.debitCount, 12);
    assert.equal(account.appliedThrough, 13);
    assert.ok(replicas[0]!.stats.etagConflicts + replicas[1]!.stats.etagConflicts > 0, "the replicas should have raced");
    const velocity = new Set(alertsOn(dapr).filter((a) => a.rule === "velocity").map((a) => a.alertId));
    assert.equal(velocity.size, 1);
    assert.equal(dapr.get<RecentAlerts>(recentAlertsKey)!.alerts.length, 1);
  });

  test("one replica's concurrent deliveries for one account take turns", async () => {
    const dapr = new FakeDapr();
    const stream = new FraudStream(dapr.asDapr(), defaultRules);
    const statuses = await Promise.all(burst("a").map((e) => stream.onLedgerEvent(e)));
    assert.ok(statuses.every((s) => s === SUCCESS));
    assert.equal(stream.stats.etagConflicts, 0);
    assert.equal(dapr.get<AccountState>(accountKey("a"))!.debitCount, 7);
    assert.equal(alertsOn(dapr).length, 1);
  });
});
