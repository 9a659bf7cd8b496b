import assert from "node:assert/strict";
import { describe, test } from "node:test";
import express from "express";
import { loadSettings } from "../src/config.js";
import { serverOptions } from "../src/server.js";

// Every app listens on loopback (its sidecar is on the same host) unless told otherwise; on Kubernetes the
// manifest sets APP_HOST=0.0.0.0 so the kubelet's probes and the daprd container reach it on the pod IP.
describe("where fraud listens", () => {
  test("loopback by default", () => {
    const settings = loadSettings({});
    assert.equal(settings.appHost, "127.0.0.1");
    assert.equal(serverOptions(settings, express()).serverHost, "127.0.0.1");
  });

  test("APP_HOST chooses the address", () => {
    const settings = loadSettings({ APP_HOST: "0.0.0.0", APP_PORT: "4100" });
    const options = serverOptions(settings, express());
    assert.equal(options.serverHost, "0.0.0.0");
    assert.equal(options.serverPort, "4100");
  });

  test("a malformed APP_HOST stops start-up", () => {
    assert.throws(() => loadSettings({ APP_HOST: "not a host" }), /APP_HOST must be an IP address/);
  });
});
