// The gRPC app channel: a DaprServer with communicationProtocol GRPC serves dapr.proto.runtime.v1.AppCallback, and
// its sidecar (--app-protocol grpc) reaches it only that way: invocation (OnInvoke), subscriptions
// (ListTopicSubscriptions) and delivery (OnTopicEvent), including a RETRY answer being redelivered.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CommunicationProtocolEnum, DaprPubSubStatusEnum, HttpMethod } from "@dapr/dapr";
import { Harness, component, unique, waitFor } from "./fixture.mjs";

const { HTTP, GRPC } = CommunicationProtocolEnum;
const h = new Harness("grpc-app");
let app; // app-id "grpc-app": a gRPC DaprServer
let caller; // a sidecar without an app, to call and publish from
const topics = { plain: unique("plain"), flaky: unique("flaky") };
const seen = { plain: [], flaky: [] };

before(async () => {
  const resources = h.components("grpc-app", { "pubsub.yaml": component("pubsub", "pubsub.in-memory") });
  app = await h.startApp({
    appId: "grpc-app",
    resources: [resources],
    protocol: GRPC,
    setup: async (server) => {
      await server.invoker.listen("quote", async (req) => ({ body: JSON.parse(req.body), query: req.query ?? "" }), { method: HttpMethod.POST });
      await server.invoker.listen("ping", async () => ({ pong: true }), { method: HttpMethod.GET });
      await server.pubsub.subscribe("pubsub", topics.plain, async (data) => {
        seen.plain.push(data);
      });
      await server.pubsub.subscribe("pubsub", topics.flaky, async (data) => {
        seen.flaky.push(data.id);
        return seen.flaky.length === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
      });
    },
  });
  // The in-memory pubsub is per sidecar process: publish through the app's own sidecar.
  caller = await h.startSidecar({ appId: "grpc-caller" });
});

after(() => h.close());

describe("a gRPC app behind the sidecar (--app-protocol grpc)", () => {
  it("server.invoker.listen answers a DaprClient invoke over HTTP, with the query string", async () => {
    const client = h.client(caller, HTTP);
    const res = await client.invoker.invoke("grpc-app", "quote?currency=EUR", HttpMethod.POST, { sku: "s-1" });
    assert.deepEqual(res.body, { sku: "s-1" });
    assert.equal(res.query, "currency=EUR");
  });

  it("server.invoker.listen answers a DaprClient invoke over gRPC", async () => {
    const client = h.client(caller, GRPC);
    assert.deepEqual(await client.invoker.invoke("grpc-app", "ping", HttpMethod.GET), { pong: true });
  });

  it("the sidecar's metadata says it reaches its app over grpc", async () => {
    const metadata = await (await fetch(`${app.sidecar.httpEndpoint}/v1.0/metadata`)).json();
    assert.equal(metadata.appConnectionProperties.protocol, "grpc");
    assert.deepEqual(metadata.subscriptions.map((s) => s.topic).sort(), [topics.flaky, topics.plain].sort());
  });

  it("server.pubsub.subscribe receives a published event", async () => {
    const client = h.client(app.sidecar, HTTP);
    await client.pubsub.publish("pubsub", topics.plain, { id: "p1", total: 3 });
    await waitFor(() => seen.plain.length >= 1, { what: "the event at the gRPC app" });
    assert.deepEqual(seen.plain[0], { id: "p1", total: 3 });
  });

  it("a handler returning RETRY gets the event again", async () => {
    const client = h.client(app.sidecar, GRPC);
    await client.pubsub.publish("pubsub", topics.flaky, { id: "f1" });
    await waitFor(() => seen.flaky.length >= 2, { what: "the redelivery after RETRY" });
    assert.deepEqual(seen.flaky.slice(0, 2), ["f1", "f1"]);
  });
});
