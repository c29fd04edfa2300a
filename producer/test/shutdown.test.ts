import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "@queuescale/test-support/names";
import { HARNESSED_BROKERS, harnessOf, type ProducerTarget } from "@queuescale/test-support/brokers";
import { startTestProducer } from "./support/producer.js";

describe.each(HARNESSED_BROKERS)("producer shutdown on %s", (brokerName) => {
  let harness: ProducerTarget;

  beforeAll(async () => {
    harness = await harnessOf(brokerName).producerTarget();
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it("finishes and answers a publish under way, then refuses new connections", async () => {
    const queue = await harness.createQueue();
    const producer = await startTestProducer({
      ...harness.settings(),
      MAX_BATCH_MESSAGES: "3000",
      MAX_BODY_BYTES: String(32 * 1024 * 1024),
    });
    const payload = "y".repeat(2048);
    const messages = Array.from({ length: 3000 }, (_, index) => ({ body: { index, payload } }));
    const answering = producer.post(`/v1/queues/${queue}/messages`, { messages });
    await eventually(async () => ((await harness.count(queue)) > 0 ? true : undefined), {
      intervalMs: 5,
      what: "the batch to start arriving",
    });
    const stopped = producer.stop();

    const answer = await answering;
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toBe(messages.length);
    await stopped;
    expect(await harness.count(queue)).toBe(messages.length);
    await expect(fetch(`${producer.url}/healthz`)).rejects.toThrow();
  });

  it("does not wait past SHUTDOWN_TIMEOUT_SECONDS for a client that never finishes its request", async () => {
    const queue = await harness.createQueue();
    const producer = await startTestProducer({ ...harness.settings(), SHUTDOWN_TIMEOUT_SECONDS: "1" });
    // Announces a body it never sends, as a slow (or malicious) client does.
    const slow = connect(producer.port, "127.0.0.1");
    const slowClosed = new Promise<void>((resolve) => slow.once("close", () => resolve()));
    slow.on("error", () => undefined);
    await new Promise<void>((resolve) => slow.once("connect", () => resolve()));
    // "100 Continue" comes back once the producer has taken the request up.
    const continued = new Promise<void>((resolve) =>
      slow.on("data", (data: Buffer) => {
        if (data.toString().includes("100 Continue")) resolve();
      }),
    );
    slow.write(
      `POST /v1/queues/${queue}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n`,
    );
    await continued;
    slow.write('{"body":');
    await producer.stop();
    await slowClosed;
    expect(slow.destroyed).toBe(true);
    expect(await harness.count(queue)).toBe(0);
  });
});
