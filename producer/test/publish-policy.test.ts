import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "@queuescale/test-support/names";
import { rabbitmqHarness } from "@queuescale/test-support/rabbitmq/harness";
import { HARNESSED_BROKERS, harnessOf, type ProducerTarget } from "@queuescale/test-support/brokers";
import { startTestProducer } from "./support/producer.js";

describe.each(HARNESSED_BROKERS)("which queues the API publishes to on %s", (brokerName) => {
  let harness: ProducerTarget;

  beforeAll(async () => {
    harness = await harnessOf(brokerName).producerTarget();
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it("with ALLOWED_QUEUES, only the queues it names or whose prefix it names (403 for others)", async () => {
    const named = await harness.createQueue();
    const prefix = uniqueName("qs-allowed");
    const prefixed = await harness.createQueue(`${prefix}-orders`);
    const other = await harness.createQueue();
    const producer = await startTestProducer({ ...harness.settings(), ALLOWED_QUEUES: `${named}, ${prefix}-*` });
    try {
      expect((await producer.post(`/v1/queues/${named}/messages`, { body: 1 })).status).toBe(202);
      expect((await producer.post(`/v1/queues/${prefixed}/messages`, { body: 2 })).status).toBe(202);
      const refused = await producer.post(`/v1/queues/${other}/messages`, { body: 3 });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toContain("ALLOWED_QUEUES");
      expect(await harness.count(named)).toBe(1);
      expect(await harness.count(prefixed)).toBe(1);
      expect(await harness.count(other)).toBe(0);
    } finally {
      await producer.stop();
    }
  });
});

describe("the worker's internal RabbitMQ queues", () => {
  let harness: ProducerTarget;

  beforeAll(async () => {
    harness = await rabbitmqHarness.producerTarget();
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it.each([
    ["retry", ".retry"],
    ["dead-letter", ".dead"],
  ])("refuses publishing to the %s queue with 403 saying why, even where it exists", async (role, suffix) => {
    const queue = await harness.createQueue();
    const internal = await harness.createQueue(`${queue}${suffix}`);
    // Allowing everything by prefix still does not open the internal queues.
    const producer = await startTestProducer({ ...harness.settings(), ALLOWED_QUEUES: "qs-*" });
    try {
      const refused = await producer.post(`/v1/queues/${internal}/messages`, { body: "no expiry" });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toContain(`${role} queue of ${queue}`);
      expect(await harness.count(internal)).toBe(0);
      expect((await producer.post(`/v1/queues/${queue}/messages`, { body: "work" })).status).toBe(202);
    } finally {
      await producer.stop();
    }
  });
});
