import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isApplied } from "../src/account.js";
import { opened, seconds, withdrawn } from "./support/events.js";
import { World } from "./support/world.js";

describe("account bookkeeping", () => {
  test("the same event twice is applied once and counted once", () => {
    const world = new World();
    const events = [opened("a", 1, seconds(0)), withdrawn("a", 2, 10, seconds(1)), withdrawn("a", 3, 20, seconds(2))];
    world.deliver(...events);
    world.deliver(...events);
    const account = world.account("a");
    assert.equal(world.duplicates, 3);
    assert.equal(account.debitCount, 2);
    assert.equal(account.debitTotalCents, 3_000);
    assert.equal(account.debits.length, 2);
    assert.equal(account.appliedThrough, 3);
  });

  test("a redelivered burst does not raise its velocity alert again", () => {
    const world = new World();
    const burst = [opened("a", 1, seconds(0)), ...[2, 3, 4, 5, 6, 7, 8].map((n) => withdrawn("a", n, 10, seconds(n)))];
    world.deliver(...burst);
    world.deliver(...burst);
    assert.deepEqual(
      world.alerts.map((a) => [a.rule, a.sequence]),
      [["velocity", 7]],
    );
  });

  test("events that arrive out of order are all applied, and each only once", () => {
    const world = new World();
    world.deliver(opened("a", 1, seconds(0)), withdrawn("a", 3, 30, seconds(3)), withdrawn("a", 2, 20, seconds(2)));
    assert.equal(world.account("a").appliedThrough, 3);
    assert.deepEqual(world.account("a").appliedAbove, []);
    world.deliver(withdrawn("a", 3, 30, seconds(3)));
    assert.equal(world.duplicates, 1);
    assert.equal(world.account("a").debitCount, 2);
  });

  test("an early event waits above the watermark until the gap fills", () => {
    const world = new World();
    world.deliver(opened("a", 1, seconds(0)), withdrawn("a", 4, 40, seconds(4)));
    const account = world.account("a");
    assert.equal(account.appliedThrough, 1);
    assert.deepEqual(account.appliedAbove, [4]);
    assert.equal(isApplied(account, 4), true);
    assert.equal(isApplied(account, 2), false);
  });

  test("a gap that never fills stops holding the watermark back", () => {
    const world = new World();
    // Sequence 2 never comes (say it was dropped as malformed).
    world.deliver(opened("a", 1, seconds(0)), ...Array.from({ length: 65 }, (_, i) => withdrawn("a", i + 3, 1, seconds(3600 * (i + 1)))));
    const account = world.account("a");
    assert.equal(account.appliedThrough, 67);
    assert.deepEqual(account.appliedAbove, []);
  });

  test("the velocity window keeps only recent debits", () => {
    const world = new World();
    world.deliver(opened("a", 1, seconds(0)), ...Array.from({ length: 20 }, (_, i) => withdrawn("a", i + 2, 1, seconds(100 * i))));
    const account = world.account("a");
    assert.equal(account.debitCount, 20);
    assert.ok(account.debits.length <= 3, `kept ${account.debits.length} debits`);
  });

  test("deposits and credits are not debits", () => {
    const world = new World();
    world.deliver(opened("a", 1, seconds(0)), { kind: "Deposited", accountId: "a", sequence: 2, amount: 5, reference: "d", occurredAt: seconds(1) });
    assert.equal(world.account("a").debitCount, 0);
  });
});
