// Configuration API through the SDK's client.configuration (get, subscribeWithKeys, subscribe, stop) on
// configuration.redis (keys written with SET "value||version" as an operator would) and configuration.local.file
// (this sidecar's own type: the JSON file rewritten). The SDK implements configuration over gRPC only: its HTTP
// client throws HTTPNotSupportedError for every configuration call, so HTTP is checked with fetch.
import assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { GrpcCode, Harness, component, errorInfoReason, redisCommand, unique, waitFor } from "./fixture.mjs";

const h = new Harness("configuration");
let redis;
let sidecar;
let grpc;
let http;
const fileContent = {};
let configFile;

const stores = {
  redis: {
    name: "redisconfig",
    write: (key, stored) => (stored === null ? redisCommand(redis.port, "DEL", key) : redisCommand(redis.port, "SET", key, stored)),
  },
  file: {
    name: "fileconfig",
    // Written aside and renamed over the file, as an editor saves it.
    write: async (key, stored) => {
      if (stored === null) delete fileContent[key];
      else fileContent[key] = stored;
      writeFileSync(`${configFile}.tmp`, JSON.stringify(fileContent));
      renameSync(`${configFile}.tmp`, configFile);
    },
  },
};

before(async () => {
  redis = await h.startRedis();
  configFile = path.join(h.dir, "configuration.json");
  writeFileSync(configFile, "{}");
  const dir = h.components("configuration", {
    "redisconfig.yaml": component("redisconfig", "configuration.redis", { redisHost: redis.host }),
    "fileconfig.yaml": component("fileconfig", "configuration.local.file", { configFile, pollInterval: "100ms" }),
  });
  sidecar = await h.startSidecar({ appId: "configuration-tests", resources: [dir] });
  grpc = h.client(sidecar, CommunicationProtocolEnum.GRPC);
  http = h.client(sidecar, CommunicationProtocolEnum.HTTP);
});

after(() => h.close());

/**
 * Subscribes with the SDK and waits until the subscription is live: the SDK resolves before the stream is open,
 * so the key is written (new values each time) until the callback has seen one of them.
 */
async function liveSubscription(store, key) {
  const seen = [];
  const subscription = await grpc.configuration.subscribeWithKeys(store.name, [key], async (update) => {
    seen.push(update.items);
  });
  let n = 0;
  await waitFor(async () => {
    n += 1;
    await store.write(key, `warm-${n}||${n}`);
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      if (seen.length > 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }, { timeoutMs: 15000, what: "the subscription to deliver a first update" });
  return { subscription, seen, saw: (value, version) => seen.some((items) => items[key]?.value === value && items[key]?.version === version) };
}

for (const [label, store] of Object.entries(stores)) {
  describe(`configuration.${label === "redis" ? "redis" : "local.file"}`, () => {
    it("get returns the values and versions an operator wrote, and leaves out missing keys", async () => {
      const [a, b] = [unique("a"), unique("b")];
      await store.write(a, "v1||1");
      await store.write(b, "plain");
      const got = await grpc.configuration.get(store.name, [a, b, unique("missing")]);
      assert.deepEqual(Object.keys(got.items).sort(), [a, b].sort());
      assert.equal(got.items[a].value, "v1");
      assert.equal(got.items[a].version, "1");
      assert.equal(got.items[b].value, "plain");
      assert.equal(got.items[b].version, "");
    });

    it("a subscription sees updates and deletes, and nothing after stop()", async () => {
      const a = unique("sub");
      const first = await liveSubscription(store, a);
      await store.write(a, "v2||2");
      await waitFor(() => first.saw("v2", "2"), { timeoutMs: 15000, what: "the update after subscribing" });
      await store.write(a, null);
      await waitFor(() => first.seen.some((items) => a in items && !items[a].value), { timeoutMs: 15000, what: "the delete, as an empty item" });

      await first.subscription.stop();
      await store.write(a, "v3||3");
      // A later subscription must see a marker update, so delivery has had its chance.
      const second = await liveSubscription(store, a);
      await store.write(a, "v4||4");
      await waitFor(() => second.saw("v4", "4"), { timeoutMs: 15000, what: "the marker update on the second subscription" });
      assert.ok(!first.saw("v3", "3") && !first.saw("v4", "4"), JSON.stringify(first.seen));
      await second.subscription.stop();
    });

    it("a subscription without keys sees any key", async () => {
      const [a, b] = [unique("any-a"), unique("any-b")];
      const seen = [];
      const subscription = await grpc.configuration.subscribe(store.name, async (update) => {
        seen.push(update.items);
      });
      let n = 0;
      // Written until seen: the SDK resolves before the stream is open.
      await waitFor(async () => {
        n += 1;
        await store.write(a, `one-${n}||${n}`);
        await store.write(b, `two-${n}`);
        await new Promise((r) => setTimeout(r, 250));
        return seen.some((i) => i[a]?.value?.startsWith("one-")) && seen.some((i) => i[b]?.value?.startsWith("two-"));
      }, { timeoutMs: 15000, what: "updates of two keys" });
      await subscription.stop();
    });
  });
}

it("an unknown store is INVALID_ARGUMENT with ErrorInfo ERR_CONFIGURATION_STORE_NOT_FOUND", async () => {
  await assert.rejects(grpc.configuration.get("nope", ["a"]), (err) => {
    assert.equal(err.code, GrpcCode.InvalidArgument, String(err));
    assert.equal(errorInfoReason(err), "ERR_CONFIGURATION_STORE_NOT_FOUND");
    return true;
  });
});

it("over HTTP the SDK has no configuration client; the sidecar's HTTP API answers as daprd's", async () => {
  await assert.rejects(http.configuration.get("redisconfig", ["a"]), { name: "HTTPNotSupportedError" });
  const key = unique("http");
  await stores.redis.write(key, "v1||1");
  const res = await fetch(`${sidecar.httpEndpoint}/v1.0/configuration/redisconfig?key=${key}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { [key]: { value: "v1", version: "1" } });
  const missing = await fetch(`${sidecar.httpEndpoint}/v1.0-alpha1/configuration/redisconfig?key=${unique("none")}`);
  assert.equal(missing.status, 204);
  const unknown = await fetch(`${sidecar.httpEndpoint}/v1.0/configuration/nope`);
  assert.equal(unknown.status, 400);
  assert.equal((await unknown.json()).errorCode, "ERR_CONFIGURATION_STORE_NOT_FOUND");
});
