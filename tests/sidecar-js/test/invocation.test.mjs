// Service invocation through the SDK: DaprClient.invoker (HTTP and gRPC) calls a DaprServer app that runs
// as two replicas of one app-id; the caller's sidecar must round-robin over them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum, HttpMethod } from "@dapr/dapr";
import { Harness, httpError } from "./fixture.mjs";

const { HTTP, GRPC } = CommunicationProtocolEnum;
const h = new Harness("invocation");
let caller;
const replicas = {};

/** Starts replica `name` of app-id "callee"; its methods report which replica answered. */
function callee(name) {
  return h.startApp({
    appId: "callee",
    setup: async (server) => {
      await server.invoker.listen("whoami", async (req) => ({ replica: name, caller: req.headers["dapr-caller-app-id"] }), { method: HttpMethod.GET });
      await server.invoker.listen("echo", async (req) => ({ replica: name, body: JSON.parse(req.body) }), { method: HttpMethod.POST });
    },
  });
}

before(async () => {
  [replicas.r1, replicas.r2, caller] = await Promise.all([callee("r1"), callee("r2"), h.startSidecar({ appId: "caller" })]);
});

after(() => h.close());

function assertAlternates(answers) {
  assert.deepEqual([...new Set(answers)].sort(), ["r1", "r2"], `both replicas answer: ${answers}`);
  for (let i = 1; i < answers.length; i++) {
    assert.notEqual(answers[i], answers[i - 1], `consecutive calls go to different replicas: ${answers}`);
  }
}

describe("service invocation to an app-id with two replicas", () => {
  it("HTTP calls alternate between the replicas and carry dapr-caller-app-id", async () => {
    const client = h.client(caller, HTTP);
    const answers = [];
    for (let i = 0; i < 6; i++) {
      const res = await client.invoker.invoke("callee", "whoami", HttpMethod.GET);
      assert.equal(res.caller, "caller");
      answers.push(res.replica);
    }
    assertAlternates(answers);
  });

  it("gRPC calls alternate between the replicas and round-trip a JSON body", async () => {
    const client = h.client(caller, GRPC);
    const answers = [];
    for (let i = 0; i < 6; i++) {
      const res = await client.invoker.invoke("callee", "echo", HttpMethod.POST, { hello: "world", i });
      assert.deepEqual(res.body, { hello: "world", i });
      answers.push(res.replica);
    }
    assertAlternates(answers);
  });

  it("invoking an app-id nobody runs is ERR_DIRECT_INVOKE", async () => {
    const client = h.client(caller, HTTP);
    await assert.rejects(client.invoker.invoke("nobody-runs-this", "whoami", HttpMethod.GET), (err) => {
      const e = httpError(err);
      assert.equal(e.errorCode, "ERR_DIRECT_INVOKE", e.text);
      assert.match(e.message, /nobody-runs-this/);
      return true;
    });
  });

  // Runs last in this file: it stops replica r1.
  it("once a replica's sidecar is stopped (SIGTERM), every call reaches the other", async () => {
    await replicas.r1.sidecar.stop(30000); // a generous grace: the point is that it exits by itself
    assert.equal(replicas.r1.sidecar.process.exitCode, 0, "a sidecar exits 0 on SIGTERM");
    const client = h.client(caller, HTTP);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await client.invoker.invoke("callee", "whoami", HttpMethod.GET)).replica);
    assert.deepEqual(answers, ["r2", "r2", "r2", "r2"]);
  });
});
