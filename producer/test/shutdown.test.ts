import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../core/test/support/names.js";
import { BROKER_NAMES, HARNESSES, type BrokerHarness } from "./support/brokers.js";
import { startTestProducer } from "./support/producer.js";

describe.each(BROKER_NAMES)("producer shutdown on %s", (brokerName) => {
  let harness: BrokerHarness;

  beforeAll(async () => {
    harness = await HARNESSES[brokerName]();
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
});
