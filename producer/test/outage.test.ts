import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { eventually } from "@queuescale/test-support/names";
import { HARNESSED_BROKERS, harnessOf, type ProducerTarget } from "@queuescale/test-support/brokers";
import { startTestProducer, type TestProducer } from "./support/producer.js";

describe.each(HARNESSED_BROKERS)("producer on %s when the broker fails mid-request", (brokerName) => {
  let harness: ProducerTarget;

  beforeAll(async () => {
    harness = await harnessOf(brokerName).producerTarget();
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it("reports which messages of a batch the broker refused (nack), and only the others are stored", async () => {
    const room = 2;
    const { queue, settings } = await harness.createFullQueue(room);
    const producer = await startTestProducer({ ...harness.settings(), ...settings });
    try {
      const messages = Array.from({ length: 5 }, (_, index) => ({ body: { index }, id: `m-${index}` }));
      const answer = await producer.post(`/v1/queues/${queue}/messages`, { messages });
      expect(answer.status).toBe(502);
      expect(answer.body.accepted).toBe(room);
      // The broker takes messages in the order they were sent until the queue is full.
      expect(answer.body.failed.map((failure: { index: number }) => failure.index)).toEqual([2, 3, 4]);
      expect(answer.body.failed.map((failure: { id: string }) => failure.id)).toEqual(["m-2", "m-3", "m-4"]);
      expect(new Set(answer.body.failed.map((failure: { reason: string }) => failure.reason))).toEqual(
        new Set(["nack"]),
      );
      const stored = await harness.drain(queue, room);
      expect(stored.map((message) => message.id)).toEqual(["m-0", "m-1"]);
    } finally {
      await producer.stop();
    }
  });

  describe("behind a proxy that is cut", () => {
    let proxy: TcpProxy;
    let listingProxy: TcpProxy;
    let producer: TestProducer;
    let queue: string;

    beforeAll(async () => {
      proxy = new TcpProxy(harness.brokerPort);
      await proxy.start();
      // Where listings come over a connection of their own, that one is cut too.
      listingProxy = harness.listingPort === harness.brokerPort ? proxy : new TcpProxy(harness.listingPort);
      if (listingProxy !== proxy) await listingProxy.start();
      queue = await harness.createQueue();
      producer = await startTestProducer({
        ...harness.settings(proxy.port, listingProxy.port),
        PUBLISH_TIMEOUT_SECONDS: "3",
        MAX_BATCH_MESSAGES: "5000",
        MAX_BODY_BYTES: String(64 * 1024 * 1024),
      });
    });

    afterAll(async () => {
      await producer?.stop();
      await proxy?.close();
      await listingProxy?.close();
    });

    it("says which messages were not confirmed when the connection drops during a batch", async () => {
      const before = await harness.count(queue);
      const payload = "x".repeat(4096);
      const messages = Array.from({ length: 5000 }, (_, index) => ({ body: { index, payload }, id: `cut-${index}` }));
      const answering = producer.post(`/v1/queues/${queue}/messages`, { messages });
      // Cut as soon as the first messages of this batch reach the queue: the batch is then under way.
      await eventually(async () => ((await harness.count(queue)) > before ? true : undefined), {
        intervalMs: 5,
        what: "the first messages of the batch to arrive",
      });
      await proxy.cut();
      const answer = await answering;

      expect(answer.status).toBe(502);
      const failed = answer.body.failed as { index: number; id: string; reason: string }[];
      expect(failed.length).toBeGreaterThan(0);
      expect(answer.body.accepted + failed.length).toBe(messages.length);
      for (const failure of failed) {
        expect(["connection", "timeout"]).toContain(failure.reason);
        expect(failure.id).toBe(`cut-${failure.index}`);
      }
      // Every message reported accepted is really in the queue (unconfirmed ones may be too).
      const failedIds = new Set(failed.map((failure) => failure.id));
      const acceptedIds = messages.map((message) => message.id).filter((id) => !failedIds.has(id));
      await proxy.restore();
      await eventually(async () => ((await producer.request("GET", "/readyz")).status === 200 ? true : undefined), {
        what: "the producer to reconnect",
      });
      const storedCount = await harness.count(queue);
      expect(storedCount - before).toBeGreaterThanOrEqual(acceptedIds.length);
      const storedIds = new Set((await harness.drain(queue, storedCount)).map((message) => message.id));
      for (const id of acceptedIds) expect(storedIds.has(id), id).toBe(true);
    });

    it("is not ready (503) while cut, refuses publishes with 503, and recovers after restore", async () => {
      expect((await producer.request("GET", "/readyz")).status).toBe(200);
      expect((await producer.request("GET", "/v1/queues")).status).toBe(200);
      await proxy.cut();
      await listingProxy.cut();
      try {
        await eventually(async () => ((await producer.request("GET", "/readyz")).status === 503 ? true : undefined), {
          what: "/readyz to answer 503",
        });
        const before = await harness.count(queue);
        const refused = await producer.post(`/v1/queues/${queue}/messages`, { body: "while cut" });
        expect(refused.status).toBe(503);
        expect(typeof refused.body.error).toBe("string");
        expect(await harness.count(queue)).toBe(before);
        // An unreadable broker is an error, never an empty list. (Waits out the one second in which
        // requests share a listing, so the one before the cut is not reused.)
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        const listing = await producer.request("GET", "/v1/queues");
        expect(listing.status).toBe(503);
        expect(listing.body.queues).toBeUndefined();
      } finally {
        await proxy.restore();
        await listingProxy.restore();
      }
      await eventually(async () => ((await producer.request("GET", "/readyz")).status === 200 ? true : undefined), {
        what: "/readyz to answer 200 again",
      });
      const before = await harness.count(queue);
      const answer = await producer.post(`/v1/queues/${queue}/messages`, { body: "after restore", id: "back" });
      expect(answer.status).toBe(202);
      expect(await harness.count(queue)).toBe(before + 1);
      await eventually(
        async () => {
          const listing = await producer.request("GET", "/v1/queues");
          return listing.status === 200 && listing.body.queues.some((row: { name: string }) => row.name === queue)
            ? true
            : undefined;
        },
        { what: "the queue listing to come back" },
      );
    });
  });
});
