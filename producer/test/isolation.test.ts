import { createLogger, rabbitmqAdapter, readSettings } from "@queuescale/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrokerClient, OutgoingMessage, PublishOutcome } from "../src/brokers/types.js";
import { producerSettings } from "../src/settings.js";
import { rabbitmqHarness } from "@queuescale/test-support/rabbitmq/harness";
import type { ProducerTarget } from "@queuescale/test-support/brokers";
import { startTestProducer, type Answer, type TestProducer } from "./support/producer.js";

const ROUNDS = 20;
const GOOD_PER_ROUND = 4;
const BATCH = 10;

function goodBatch(round: number, client: number): OutgoingMessage[] {
  return Array.from({ length: BATCH }, (_, index) => ({
    id: `good-${round}-${client}-${index}`,
    body: Buffer.from(JSON.stringify({ round, client, index })),
    contentType: "application/json",
    headers: { tenant: "acme" },
  }));
}

describe("RabbitMQ: a message the broker rejects fails no other client's publishes", () => {
  let harness: ProducerTarget;

  beforeAll(async () => {
    harness = await rabbitmqHarness.producerTarget();
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  describe("through the API", () => {
    let producer: TestProducer;
    let queue: string;

    beforeAll(async () => {
      producer = await startTestProducer(harness.settings());
      queue = await harness.createQueue();
    });

    afterAll(async () => {
      await producer?.stop();
    });

    it("refuses CC and BCC headers with 400 naming them, while a normal client sees every publish accepted", async () => {
      const normal: Answer[] = [];
      const attacks: Answer[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const answers = await Promise.all([
          ...Array.from({ length: GOOD_PER_ROUND }, (_, client) =>
            producer.post(`/v1/queues/${queue}/messages`, {
              messages: goodBatch(round, client).map((message) => ({ body: JSON.parse(message.body.toString()) })),
            }),
          ),
          producer.post(`/v1/queues/${queue}/messages`, { body: "attack", headers: { CC: "not-a-list" } }),
          producer.post(`/v1/queues/${queue}/messages`, { body: "attack", headers: { BCC: "not-a-list" } }),
        ]);
        normal.push(...answers.slice(0, GOOD_PER_ROUND));
        attacks.push(...answers.slice(GOOD_PER_ROUND));
      }
      expect(normal.filter((answer) => answer.status !== 202)).toEqual([]);
      for (const [index, answer] of attacks.entries()) {
        expect(answer.status).toBe(400);
        expect(answer.body.error).toContain(index % 2 === 0 ? "CC" : "BCC");
      }
      expect(await harness.count(queue)).toBe(ROUNDS * GOOD_PER_ROUND * BATCH);
    });
  });

  describe("publishing directly, with a rejected message that got past validation", () => {
    let client: BrokerClient;
    let queue: string;

    beforeAll(async () => {
      const settings = readSettings(producerSettings, { env: { ...harness.settings(), LOG_LEVEL: "silent" } });
      client = rabbitmqAdapter.producer.connect(
        settings,
        { publishTimeoutMs: settings.PUBLISH_TIMEOUT_SECONDS * 1000 },
        createLogger("queuescale-producer-test", "silent"),
      );
      await client.waitUntilConnected(AbortSignal.timeout(15_000));
      queue = await harness.createQueue();
    });

    afterAll(async () => {
      await client?.close();
    });

    it("fails only the request that carried it", async () => {
      const good: PublishOutcome[] = [];
      const rejected: PublishOutcome[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const bad: OutgoingMessage = {
          id: `bad-${round}`,
          body: Buffer.from("{}"),
          contentType: "application/json",
          // RabbitMQ closes the channel of a message whose CC is not an array.
          headers: { CC: "not-a-list" },
        };
        const results = await Promise.all([
          ...Array.from({ length: GOOD_PER_ROUND }, (_, index) => client.publish(queue, goodBatch(round, index))),
          client.publish(queue, [bad]),
        ]);
        good.push(...results.slice(0, GOOD_PER_ROUND).flat());
        rejected.push(...results[GOOD_PER_ROUND]!);
      }
      expect(good.filter((outcome) => !outcome.ok)).toEqual([]);
      // The broker really did reject each bad message (else this test would prove nothing).
      expect(rejected.filter((outcome) => outcome.ok)).toEqual([]);
      expect(await harness.count(queue)).toBe(ROUNDS * GOOD_PER_ROUND * BATCH);
    });
  });
});
