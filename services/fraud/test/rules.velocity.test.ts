import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultRules } from "../src/config.js";
import { busiestWindow, velocity } from "../src/rules/velocity.js";

const s = (seconds: number) => seconds * 1000;
const rules = { velocityMax: 5, velocityWindowMs: 60_000 };

describe("velocity", () => {
  test("defaults are 5 debits in 60 seconds", () => {
    assert.equal(defaultRules.velocityMax, 5);
    assert.equal(defaultRules.velocityWindowMs, 60_000);
  });

  test("five debits within the window do not fire", () => {
    const times = [0, 1, 2, 3, 4].map(s);
    assert.equal(velocity(times, s(4), null, rules), null);
  });

  test("the sixth debit within the window fires", () => {
    const times = [0, 1, 2, 3, 4, 5].map(s);
    assert.deepEqual(velocity(times, s(5), null, rules), { debits: 6 });
  });

  test("the window includes both ends: six debits exactly 60 s apart fire", () => {
    const times = [0, 10, 20, 30, 40, 60].map(s);
    assert.deepEqual(velocity(times, s(60), null, rules), { debits: 6 });
  });

  test("six debits spread over 60.001 s do not fire", () => {
    const times = [0, 10, 20, 30, 40, 60.001].map(s);
    assert.equal(velocity(times, s(60.001), null, rules), null);
  });

  test("a debit that arrives late still completes the burst", () => {
    const times = [10, 11, 12, 13, 14, 5].map(s);
    assert.deepEqual(velocity(times, s(5), null, rules), { debits: 6 });
  });

  test("one alert per burst: not again within a window of the last alert", () => {
    const times = [0, 1, 2, 3, 4, 5, 6].map(s);
    assert.equal(velocity(times, s(6), s(5), rules), null);
  });

  test("a later burst fires again", () => {
    const times = [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105].map(s);
    assert.deepEqual(velocity(times, s(105), s(5), rules), { debits: 6 });
  });

  test("thresholds come from the settings", () => {
    const tight = { velocityMax: 2, velocityWindowMs: 10_000 };
    assert.deepEqual(velocity([0, 5, 10].map(s), s(10), null, tight), { debits: 3 });
    assert.equal(velocity([0, 5, 10.5].map(s), s(10.5), null, tight), null);
  });
});

describe("busiest window", () => {
  test("is the fullest window that holds the debit, wherever it starts", () => {
    const times = [0, 30, 59, 61, 62, 200].map(s);
    // [0 s, 60 s] holds three debits, [30 s, 90 s] four.
    assert.equal(busiestWindow(times, s(30), 60_000), 4);
    assert.equal(busiestWindow(times, s(200), 60_000), 1);
  });

  test("agrees with counting every window one by one", () => {
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (let round = 0; round < 200; round++) {
      const times = Array.from({ length: 1 + Math.floor(random() * 15) }, () => Math.floor(random() * 180) * 1000);
      const at = times[Math.floor(random() * times.length)]!;
      const naive = Math.max(
        ...times.filter((start) => start >= at - 60_000 && start <= at).map((start) => times.filter((t) => t >= start && t <= start + 60_000).length),
      );
      assert.equal(busiestWindow(times, at, 60_000), naive, `times ${times.join(",")} at ${at}`);
    }
  });
});
