import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultRules } from "../src/config.js";
import { describeChain, newChains, passThroughs, type ChainFacts } from "../src/rules/chain.js";
import { minutes, opened, t0, transfer } from "./support/events.js";
import { World } from "./support/world.js";

const min = (m: number) => t0 + m * 60_000;
const rules = { chainLength: 3, chainFreshMs: 10 * 60_000, chainWindowMs: 10 * 60_000 };

/** A→B→C→D: B and C opened at `openedAt` (minutes); transfers at 1, 2, 3 minutes unless given. */
function facts(options: { openedAt?: number; hops?: [number, number, number] } = {}) {
  const [h1, h2, h3] = options.hops ?? [1, 2, 3];
  const openedAt = min(options.openedAt ?? 0);
  const b: ChainFacts = {
    accountId: "B",
    openedAt,
    hopsIn: [{ transferId: "t1", counterpartyId: "A", at: min(h1), sequence: 2 }],
    hopsOut: [{ transferId: "t2", counterpartyId: "C", at: min(h2), sequence: 3 }],
  };
  const cBefore: ChainFacts = {
    accountId: "C",
    openedAt,
    hopsIn: [{ transferId: "t2", counterpartyId: "B", at: min(h2), sequence: 2 }],
    hopsOut: [],
  };
  const cAfter: ChainFacts = { ...cBefore, hopsOut: [{ transferId: "t3", counterpartyId: "D", at: min(h3), sequence: 3 }] };
  const lookup = (id: string) => (id === "B" ? b : undefined);
  return { b, cBefore, cAfter, lookup };
}

describe("fresh-account chain", () => {
  test("defaults are 3 transfers, accounts fresh for 10 minutes, hops within 10 minutes", () => {
    assert.equal(defaultRules.chainLength, 3);
    assert.equal(defaultRules.chainFreshMs, 10 * 60_000);
    assert.equal(defaultRules.chainWindowMs, 10 * 60_000);
  });

  test("A→B→C→D through two fresh accounts is a chain of three transfers", () => {
    const { cBefore, cAfter, lookup } = facts();
    const chains = newChains(cBefore, cAfter, lookup, rules);
    assert.equal(chains.length, 1);
    assert.deepEqual(describeChain(chains[0]!), { accounts: ["A", "B", "C", "D"], transferIds: ["t1", "t2", "t3"], transfers: 3 });
  });

  test("two transfers are not enough with the default length", () => {
    const { b, lookup } = facts();
    const bBefore = { ...b, hopsOut: [] };
    assert.deepEqual(newChains(bBefore, b, lookup, rules), []);
    assert.equal(newChains(bBefore, b, lookup, { ...rules, chainLength: 2 }).length, 1);
  });

  test("an intermediate opened exactly 10 minutes before the money arrived is fresh; a millisecond more is not", () => {
    // Money reaches B at minute 1 and C at minute 2; opened at minute -9 → B is 10 minutes old, C 11.
    const { cBefore, cAfter, lookup } = facts({ openedAt: -9 });
    assert.equal(passThroughs(facts({ openedAt: -9 }).b, rules).length, 1);
    assert.deepEqual(newChains(cBefore, cAfter, lookup, rules), []);

    const fresh = facts({ openedAt: -8 });
    assert.equal(newChains(fresh.cBefore, fresh.cAfter, fresh.lookup, rules).length, 1);

    const b = { ...facts().b, openedAt: min(1) - 10 * 60_000 - 1 };
    assert.deepEqual(passThroughs(b, rules), []);
  });

  test("a hop exactly 10 minutes after the previous one links; a millisecond later does not", () => {
    const linked = facts({ hops: [1, 2, 12] });
    assert.equal(newChains(linked.cBefore, linked.cAfter, linked.lookup, rules).length, 1);

    const late = facts();
    const cAfter = { ...late.cAfter, hopsOut: [{ transferId: "t3", counterpartyId: "D", at: min(12) + 1, sequence: 3 }] };
    assert.deepEqual(newChains(late.cBefore, cAfter, late.lookup, rules), []);
  });

  test("money leaving before it arrived is not a hop", () => {
    const { cBefore, lookup } = facts();
    const cAfter = { ...cBefore, hopsOut: [{ transferId: "t3", counterpartyId: "D", at: min(2) - 1, sequence: 3 }] };
    assert.deepEqual(newChains(cBefore, cAfter, lookup, rules), []);
  });

  test("an account opened long ago does not pass money on", () => {
    const { cBefore, cAfter, b } = facts();
    const oldB = { ...b, openedAt: min(-60) };
    assert.deepEqual(newChains(cBefore, cAfter, (id) => (id === "B" ? oldB : undefined), rules), []);
  });

  // Every account's events in its own order, the accounts interleaved in two different ways.
  const chainEvents = () => ({
    A: [opened("A", 1, minutes(-600)), transfer("TransferDebited", "A", 2, "B", "t1", minutes(1))],
    B: [opened("B", 1, minutes(0)), transfer("TransferCredited", "B", 2, "A", "t1", minutes(1)), transfer("TransferDebited", "B", 3, "C", "t2", minutes(2))],
    C: [opened("C", 1, minutes(0)), transfer("TransferCredited", "C", 2, "B", "t2", minutes(2)), transfer("TransferDebited", "C", 3, "D", "t3", minutes(3))],
    D: [opened("D", 1, minutes(-600)), transfer("TransferCredited", "D", 2, "C", "t3", minutes(3))],
  });

  test("the chain is found in event order, once, attributed to the debit that completes it", () => {
    const e = chainEvents();
    const world = new World();
    world.deliver(...e.A, ...e.B, ...e.C, ...e.D);
    const chain = world.alerts.filter((a) => a.rule === "fresh-account-chain");
    assert.equal(chain.length, 1);
    assert.equal(chain[0]!.accountId, "C");
    assert.equal(chain[0]!.sequence, 3);
    assert.equal(chain[0]!.occurredAt, minutes(3));
    assert.deepEqual(chain[0]!.details, { accounts: ["A", "B", "C", "D"], transferIds: ["t1", "t2", "t3"], transfers: 3 });
  });

  test("processed the other way round (later accounts first) it is the same alert", () => {
    const e = chainEvents();
    const inOrder = new World();
    inOrder.deliver(...e.A, ...e.B, ...e.C, ...e.D);
    const reversed = new World();
    reversed.deliver(...e.D, ...e.C, ...e.B, ...e.A);
    assert.deepEqual(
      reversed.alerts.map((a) => a.alertId),
      inOrder.alerts.map((a) => a.alertId),
    );
  });

  test("a fourth hop reports the longer chain on its own debit", () => {
    const e = chainEvents();
    const world = new World();
    world.deliver(...e.A, ...e.B, ...e.C, ...e.D, transfer("TransferDebited", "D", 3, "E", "t4", minutes(4)));
    // D was opened long ago, so it is not fresh: no longer chain through it.
    assert.equal(world.alerts.length, 1);

    const fresh = new World();
    fresh.deliver(...e.A, ...e.B, ...e.C, opened("D", 1, minutes(0)), transfer("TransferCredited", "D", 2, "C", "t3", minutes(3)));
    const raised = fresh.deliver(transfer("TransferDebited", "D", 3, "E", "t4", minutes(4)));
    assert.deepEqual(
      raised.map((a) => [a.accountId, a.sequence, a.details["transfers"]]),
      [["D", 3, 4]],
    );
  });

  test("a cycle of pass-throughs (inconsistent data) ends the walk", () => {
    // X passes c1 on as c2, Y passes c2 on as c1: each pass-through follows the other for ever.
    const cycle = [
      opened("X", 1, minutes(0)),
      opened("Y", 1, minutes(0)),
      transfer("TransferCredited", "X", 2, "Y", "c1", minutes(1)),
      transfer("TransferDebited", "X", 3, "Y", "c2", minutes(2)),
      transfer("TransferCredited", "Y", 2, "X", "c2", minutes(2)),
      transfer("TransferDebited", "Y", 3, "X", "c1", minutes(3)),
    ];
    assert.deepEqual(new World({ ...defaultRules, chainLength: 10 }).deliver(...cycle), []);
    assert.ok(new World().deliver(...cycle).every((a) => a.rule === "fresh-account-chain"));
  });
});
