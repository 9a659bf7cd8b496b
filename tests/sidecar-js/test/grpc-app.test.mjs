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
const topics = { plain: unique("plain"), flaky: unique("flaky"), bulk: unique("bulk") };
const seen = { plain: [], flaky: [], bulk: [] };

before(async () => {
  const resources = h.components("grpc-app", { "pubsub.yaml": component("pubsub", "pubsub.in-memory") });
  app = await h.startApp({
    appId: "grpc-app",
    resources: [resources],
    protocol: GRPC,
    setup: async (server) => {
      await server.invoker.listen("quote", async (req) => ({ body: JSON.parse(req.body), query: req.query ?? "" }), { method: HttpMethod.POST });
      await server.invoker.listen("ping", async () => ({ pong: true }), { method: HttpMethod.GET });
      await server.pubsub.subscribe("pubsub", topics.plain, async (data, headers) => {
        seen.plain.push({ data, pubsub: headers.pubsubname });
      });
      await server.pubsub.subscribe("pubsub", topics.flaky, async (data) => {
        seen.flaky.push(data.id);
        return seen.flaky.length === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
      });
      // Bulk over gRPC: the SDK serves AppCallbackAlpha.OnBulkTopicEventAlpha1 only, and calls back once per entry.
      await server.pubsub.subscribeBulk(
        "pubsub",
        topics.bulk,
        async (data) => {
          seen.bulk.push(data.seq);
          const first = seen.bulk.filter((s) => s === data.seq).length === 1;
          return data.seq === 3 && first ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
        },
        { maxMessagesCount: 4, maxAwaitDurationMs: 200 },
      );
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
    assert.deepEqual(metadata.subscriptions.map((s) => s.topic).sort(), Object.values(topics).sort());
  });

  it("server.pubsub.subscribe receives a published event", async () => {
    const client = h.client(app.sidecar, HTTP);
    await client.pubsub.publish("pubsub", topics.plain, { id: "p1", total: 3 });
    await waitFor(() => seen.plain.length >= 1, { what: "the event at the gRPC app" });
    assert.deepEqual(seen.plain[0], { data: { id: "p1", total: 3 }, pubsub: "pubsub" });
  });

  it("a handler returning RETRY gets the event again", async () => {
    const client = h.client(app.sidecar, GRPC);
    await client.pubsub.publish("pubsub", topics.flaky, { id: "f1" });
    await waitFor(() => seen.flaky.length >= 2, { what: "the redelivery after RETRY" });
    assert.deepEqual(seen.flaky.slice(0, 2), ["f1", "f1"]);
  });

  it("server.pubsub.subscribeBulk gets every event, and an entry answered RETRY comes again", async () => {
    const client = h.client(app.sidecar, HTTP);
    await Promise.all([0, 1, 2, 3, 4, 5].map((seq) => client.pubsub.publish("pubsub", topics.bulk, { seq })));
    await waitFor(() => seen.bulk.length >= 7, { what: `6 events and the redelivery of 3 (${seen.bulk.length} deliveries)` });
    assert.deepEqual([...seen.bulk].sort(), [0, 1, 2, 3, 3, 4, 5]);
  });
});
