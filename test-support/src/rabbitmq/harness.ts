import amqp from "amqplib";
import { onThrowawayChannel } from "@queuescale/core";
import { uniqueName } from "../names.js";
import type { BrokerHarness, DeadLetter, ProducerTarget, StoredMessage, WorkerTarget } from "../broker-harness.js";

/** The shared local broker's AMQP and management ports. */
const AMQP_PORT = 5672;
const MANAGEMENT_PORT = 15672;

const amqpUrl = (port = AMQP_PORT) => `amqp://guest:guest@127.0.0.1:${port}`;

/**
 * Runs `look` on a channel of its own, answering undefined when it fails: for looks at queues that
 * may not exist yet (the worker declares its retry and dead-letter queues).
 */
export function probeChannel<T>(
  connection: amqp.ChannelModel,
  look: (probing: amqp.Channel) => Promise<T>,
): Promise<T | undefined> {
  return onThrowawayChannel(connection, look).catch(() => undefined);
}

/** Takes every message now in `<queue>.dead` off it, with the reason and attempts the worker wrote. */
export async function takeDeadLetters(connection: amqp.ChannelModel, queue: string): Promise<DeadLetter[]> {
  const taken: DeadLetter[] = [];
  for (;;) {
    const message = await probeChannel(connection, (probing) => probing.get(`${queue}.dead`, { noAck: true }));
    if (!message) return taken;
    const headers = message.properties.headers ?? {};
    taken.push({
      id: String(message.properties.messageId),
      reason: String(headers["x-queuescale-reason"]),
      attempts: Number(headers["x-queuescale-attempts"]),
      body: message.content,
    });
  }
}

async function workerTarget(): Promise<WorkerTarget> {
  const queue = uniqueName("worker-test");
  const connection = await amqp.connect(amqpUrl());
  const channel = await connection.createConfirmChannel();
  // The queue exists before the worker does, as it would with a producer running first.
  await channel.assertQueue(queue, { durable: true });
  const letters: DeadLetter[] = [];
  return {
    broker: "rabbitmq",
    brokerPort: AMQP_PORT,
    identity: { vhost: "/", queue },
    missingTargetName: `${queue}-missing`,
    workerEnv: (port) => ({ BROKER: "rabbitmq", RABBITMQ_URL: amqpUrl(port), QUEUE: queue, DECLARE: "true" }),
    missingTargetEnv: () => ({
      BROKER: "rabbitmq",
      RABBITMQ_URL: amqpUrl(),
      QUEUE: `${queue}-missing`,
      DECLARE: "false",
    }),
    async publish(messages) {
      // Stamped with the publish time as queuescale-producer stamps it (the worker's wait histogram).
      const headers = { "x-queuescale-published-at": new Date().toISOString() };
      for (const message of messages) {
        channel.sendToQueue(queue, message.body, { messageId: message.id, persistent: true, headers });
      }
      await channel.waitForConfirms();
    },
    async backlog() {
      const work = await channel.checkQueue(queue);
      const retry = await probeChannel(connection, (probing) => probing.checkQueue(`${queue}.retry`));
      return work.messageCount + (retry?.messageCount ?? 0);
    },
    async deadLetters() {
      // Taken off the queue as they are read, so kept here: every call answers all seen so far.
      letters.push(...(await takeDeadLetters(connection, queue)));
      return [...letters];
    },
    async cleanup() {
      for (const name of [queue, `${queue}.retry`, `${queue}.dead`, `${queue}-missing`]) {
        await channel.deleteQueue(name).catch(() => undefined);
      }
      await connection.close().catch(() => undefined);
    },
  };
}

async function producerTarget(): Promise<ProducerTarget> {
  const connection = await amqp.connect(amqpUrl());
  const created = new Set<string>();
  const declare = async (options: amqp.Options.AssertQueue = {}, queue = uniqueName("qs-producer")) => {
    created.add(queue);
    await onThrowawayChannel(connection, (channel) => channel.assertQueue(queue, { durable: true, ...options }));
    return queue;
  };
  return {
    broker: "rabbitmq",
    brokerPort: AMQP_PORT,
    listingPort: MANAGEMENT_PORT,
    settings: (port = AMQP_PORT, listingPort = MANAGEMENT_PORT) => ({
      BROKER: "rabbitmq",
      RABBITMQ_URL: amqpUrl(port),
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${listingPort}`,
    }),
    createQueue: (name) => declare({}, name),
    async createFullQueue(max) {
      const queue = await declare({ arguments: { "x-max-length": max, "x-overflow": "reject-publish" } });
      return { queue, settings: {} };
    },
    missingQueue: () => uniqueName("qs-producer-missing"),
    async exists(queue) {
      return (await probeChannel(connection, (channel) => channel.checkQueue(queue))) !== undefined;
    },
    async count(queue) {
      return (await onThrowawayChannel(connection, (channel) => channel.checkQueue(queue))).messageCount;
    },
    async purge(queue) {
      await onThrowawayChannel(connection, (channel) => channel.purgeQueue(queue));
    },
    drain: (queue) =>
      onThrowawayChannel(connection, async (channel) => {
        const messages: StoredMessage[] = [];
        for (;;) {
          const message = await channel.get(queue, { noAck: true });
          if (message === false) return messages;
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.properties.headers ?? {})) headers[name] = String(value);
          messages.push({
            id: message.properties.messageId as string | undefined,
            body: message.content.toString(),
            headers,
            contentType: message.properties.contentType as string | undefined,
            persistent: message.properties.deliveryMode === 2,
          });
        }
      }),
    async cleanup() {
      for (const queue of created) {
        await onThrowawayChannel(connection, (channel) => channel.deleteQueue(queue)).catch(() => undefined);
      }
      await connection.close();
    },
  };
}

/** Queues of their own in the default vhost of the shared local RabbitMQ. */
export const rabbitmqHarness: BrokerHarness = {
  broker: "rabbitmq",
  brokerPort: AMQP_PORT,
  workerTarget,
  producerTarget,
};
