import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, defaultRules, loadSettings } from "../src/config.js";

describe("settings", () => {
  test("defaults when nothing is set", () => {
    const settings = loadSettings({});
    assert.deepEqual(settings, { appHost: "127.0.0.1", appPort: 3001, daprHost: "127.0.0.1", daprHttpPort: 3500, rules: defaultRules });
  });

  test("the app port comes from APP_PORT (dapr run), else PORT (tye run)", () => {
    assert.equal(loadSettings({ PORT: "4100" }).appPort, 4100);
    assert.equal(loadSettings({ APP_PORT: "4200", PORT: "4100" }).appPort, 4200);
    assert.throws(() => loadSettings({ PORT: "port" }), /PORT must be a TCP port/);
  });

  test("every threshold comes from its variable", () => {
    const settings = loadSettings({
      APP_PORT: "4000",
      DAPR_HTTP_PORT: "3600",
      FRAUD_VELOCITY_MAX: "3",
      FRAUD_VELOCITY_WINDOW_SECONDS: "30",
      FRAUD_AMOUNT_FACTOR: "2.5",
      FRAUD_AMOUNT_MIN_HISTORY: "5",
      FRAUD_CHAIN_LENGTH: "4",
      FRAUD_CHAIN_FRESH_MINUTES: "15",
      FRAUD_CHAIN_WINDOW_MINUTES: "5",
    });
    assert.deepEqual(settings.rules, {
      velocityMax: 3,
      velocityWindowMs: 30_000,
      amountFactor: 2.5,
      amountMinHistory: 5,
      chainLength: 4,
      chainFreshMs: 15 * 60_000,
      chainWindowMs: 5 * 60_000,
    });
    assert.equal(settings.appPort, 4000);
    assert.equal(settings.daprHttpPort, 3600);
  });

  test("bad values fail with one message naming each variable", () => {
    assert.throws(
      () => loadSettings({ FRAUD_VELOCITY_MAX: "five", FRAUD_AMOUNT_FACTOR: "0.5", FRAUD_CHAIN_LENGTH: "1", APP_PORT: "70000" }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.problems.length, 4);
        assert.match(e.message, /FRAUD_VELOCITY_MAX must be a whole number ≥ 1 \(got "five"\)/);
        assert.match(e.message, /FRAUD_AMOUNT_FACTOR must be a number > 1 \(got "0.5"\)/);
        assert.match(e.message, /FRAUD_CHAIN_LENGTH must be a whole number ≥ 2/);
        assert.match(e.message, /APP_PORT must be a TCP port/);
        return true;
      },
    );
  });
});
