// Component files the sidecar cannot honour must stop it at start-up with an error naming file and field.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Harness, component } from "./fixture.mjs";

const h = new Harness("components");
after(() => h.close());

describe("bad component YAML stops the sidecar", () => {
  it("an unknown metadata name exits 1 naming the file and spec.metadata[name]", async () => {
    const dir = h.components("typo", {
      "statestore.yaml": component("statestore", "state.redis", { redisHost: "127.0.0.1:6379", redisPasword: "secret" }),
    });
    const res = await h.runSidecarToExit({ appId: "bad-metadata", resources: [dir] });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /^error: \S*\/typo\/statestore\.yaml: spec\.metadata\[redisPasword\]: /m);
    assert.doesNotMatch(res.stdout, /sidecar ready/);
  });

  it("a pubsub.kafka component exits 1 naming the file and spec.type", async () => {
    const dir = h.components("kafka", {
      "pubsub.yaml": component("pubsub", "pubsub.kafka", { brokers: "localhost:9092" }),
    });
    const res = await h.runSidecarToExit({ appId: "bad-type", resources: [dir] });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /^error: \S*\/kafka\/pubsub\.yaml: spec\.type: .*pubsub\.kafka/m);
    assert.doesNotMatch(res.stdout, /sidecar ready/);
  });

  it("a good file beside a bad one does not rescue it", async () => {
    const dir = h.components("mixed", {
      "a-good.yaml": component("statestore", "state.in-memory"),
      "b-bad.yaml": component("pubsub", "pubsub.redis", { redisHost: "127.0.0.1:6379", consumerId: "x" }),
    });
    const res = await h.runSidecarToExit({ appId: "bad-mixed", resources: [dir] });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /^error: \S*\/mixed\/b-bad\.yaml: spec\.metadata\[consumerId\]: /m);
  });
});
