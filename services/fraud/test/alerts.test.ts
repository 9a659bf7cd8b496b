import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { alertId, fraudSuspected, recentAlertsKept, withRecent } from "../src/alerts.js";
import { t0 } from "./support/events.js";

describe("alerts", () => {
  test("alertId is the same for the same rule, account and sequence", () => {
    assert.equal(alertId("velocity", "acc-1", 7), alertId("velocity", "acc-1", 7));
    // Pinned: a change would give every alert already raised a new id, so redeliveries would raise it again.
    assert.equal(alertId("velocity", "a", 7), "d59faf65-b84b-5fa5-a2a9-ea58d1650441");
    assert.match(alertId("velocity", "acc-1", 7), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("alertId differs when any part differs", () => {
    const ids = new Set([
      alertId("velocity", "acc-1", 7),
      alertId("unusual-amount", "acc-1", 7),
      alertId("velocity", "acc-2", 7),
      alertId("velocity", "acc-1", 8),
      alertId("velocity", "acc-1:7", 7),
    ]);
    assert.equal(ids.size, 5);
  });

  test("an alert carries the event time, not the wall clock", () => {
    const alert = fraudSuspected("velocity", "acc-1", 7, t0, { debits: 6 });
    assert.equal(alert.occurredAt, "2026-11-24T02:40:00.000Z");
    assert.equal(alert.alertId, alertId("velocity", "acc-1", 7));
  });

  test("the recent list is newest first, without repeats, and bounded", () => {
    const a = (n: number) => fraudSuspected("velocity", "acc", n, t0, {});
    let recent = withRecent([], [a(1), a(2)]);
    recent = withRecent(recent, [a(2), a(3)]);
    assert.deepEqual(
      recent.map((x) => x.sequence),
      [3, 2, 1],
    );
    recent = withRecent(recent, Array.from({ length: 200 }, (_, i) => a(i + 10)));
    assert.equal(recent.length, recentAlertsKept);
    assert.equal(recent[0]!.sequence, 209);
  });
});
