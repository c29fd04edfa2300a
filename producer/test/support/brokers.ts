import amqp from "amqplib";
import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import type { BrokerName } from "@queuescale/core";
import { uniqueName } from "@queuescale/test-support/names";

/** A message as a test reads it back from the broker. */
export interface StoredMessage {
  readonly id: string | undefined;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  readonly persistent: boolean;
}

/**
 * What a test needs from a broker, talked to with its own client (never through the producer), so
 * that assertions about what is stored do not trust the code under test. Everything a harness
 * creates is removed by cleanup().
 */
export interface BrokerHarness {
  readonly broker: BrokerName;
  /** The port the producer is pointed at; a TcpProxy in front of it simulates outages. */
  readonly brokerPort: number;
  /** The port queue listings are read from (the management API for RabbitMQ). */
  readonly listingPort: number;
  /**
   * Producer settings that reach the broker through `port` and read listings through `listingPort`
   * (default: the broker itself).
   */
  settings(port?: number, listingPort?: number): Record<string, string>;
  /** A fresh queue that exists on the broker (named `name` when given; removed by cleanup()). */
  createQueue(name?: string): Promise<string>;
  /**
   * A queue the broker refuses to hold more than `max` messages in, so publishes past it are
   * nacked, with the settings a producer needs to publish to it.
   */
  createFullQueue(max: number): Promise<{ queue: string; settings: Record<string, string> }>;
  /** A name no queue has. */
  missingQueue(): string;
  exists(queue: string): Promise<boolean>;
  count(queue: string): Promise<number>;
  /** Takes (and acknowledges) every message of the queue, oldest first. */
  drain(queue: string, expected: number): Promise<StoredMessage[]>;
  cleanup(): Promise<void>;
}

const RABBITMQ_PORT = 5672;
const RABBITMQ_MANAGEMENT_PORT = 15672;
const NATS_PORT = 4222;

async function rabbitHarness(): Promise<BrokerHarness> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${RABBITMQ_PORT}`);
  const created = new Set<string>();
  // A passive declare of a missing queue closes its channel, so each call gets its own.
  const onChannel = async <T>(use: (channel: amqp.Channel) => Promise<T>): Promise<T> => {
    const channel = await connection.createChannel();
    let closed = false;
    channel.on("error", () => undefined);
    channel.on("close", () => {
      closed = true;
    });
    try {
      return await use(channel);
    } finally {
      if (!closed) await channel.close().catch(() => undefined);
    }
  };
  const declare = async (options: amqp.Options.AssertQueue = {}, queue = uniqueName("qs-producer")) => {
    created.add(queue);
    await onChannel((channel) => channel.assertQueue(queue, { durable: true, ...options }));
    return queue;
  };
  return {
    broker: "rabbitmq",
    brokerPort: RABBITMQ_PORT,
    listingPort: RABBITMQ_MANAGEMENT_PORT,
    settings: (port = RABBITMQ_PORT, listingPort = RABBITMQ_MANAGEMENT_PORT) => ({
      BROKER: "rabbitmq",
      RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${port}`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${listingPort}`,
    }),
    createQueue: (name) => declare({}, name),
    async createFullQueue(max) {
      const queue = await declare({ arguments: { "x-max-length": max, "x-overflow": "reject-publish" } });
      return { queue, settings: {} };
    },
    missingQueue: () => uniqueName("qs-producer-missing"),
    async exists(queue) {
      try {
        await onChannel((channel) => channel.checkQueue(queue));
        return true;
      } catch {
        return false;
      }
    },
    async count(queue) {
      return (await onChannel((channel) => channel.checkQueue(queue))).messageCount;
    },
    async drain(queue) {
      return onChannel(async (channel) => {
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
      });
    },
    async cleanup() {
      for (const queue of created) await onChannel((channel) => channel.deleteQueue(queue)).catch(() => undefined);
      await connection.close();
    },
  };
}

async function natsHarness(): Promise<BrokerHarness> {
  const connection = await natsConnect({ servers: `127.0.0.1:${NATS_PORT}` });
  const jsm = await jetstreamManager(connection);
  const js = jetstream(connection);
  const streams = new Set<string>();
  const addStream = async (name: string, limits: { max_msgs?: number } = {}) => {
    streams.add(name);
    await jsm.streams.add({
      name,
      subjects: [`${name}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      ...limits,
    });
  };
  const addConsumer = async (stream: string, queue = uniqueName("qs-producer")) => {
    await jsm.consumers.add(stream, {
      durable_name: queue,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${stream}.${queue}`,
    });
    return queue;
  };
  const stream = uniqueName("qs-producer");
  await addStream(stream);
  const streamOf = new Map<string, string>();
  return {
    broker: "nats",
    brokerPort: NATS_PORT,
    // Listings come from the JetStream API over the same connection URL.
    listingPort: NATS_PORT,
    settings: (port = NATS_PORT) => ({ BROKER: "nats", NATS_URL: `nats://127.0.0.1:${port}`, STREAM: stream }),
    async createQueue(name) {
      const queue = await addConsumer(stream, name);
      streamOf.set(queue, stream);
      return queue;
    },
    async createFullQueue(max) {
      const limited = uniqueName("qs-producer-full");
      await addStream(limited, { max_msgs: max });
      const queue = await addConsumer(limited);
      streamOf.set(queue, limited);
      return { queue, settings: { STREAM: limited } };
    },
    missingQueue: () => uniqueName("qs-producer-missing"),
    async exists(queue) {
      try {
        await jsm.consumers.info(streamOf.get(queue) ?? stream, queue);
        return true;
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return false;
        throw error;
      }
    },
    async count(queue) {
      const info = await jsm.consumers.info(streamOf.get(queue) ?? stream, queue);
      return info.num_pending + info.num_ack_pending;
    },
    async drain(queue, expected) {
      const consumer = await js.consumers.get(streamOf.get(queue) ?? stream, queue);
      const messages: StoredMessage[] = [];
      if (expected === 0) return messages;
      const batch = await consumer.fetch({ max_messages: expected, expires: 5_000 });
      for await (const message of batch) {
        const headers: Record<string, string> = {};
        for (const name of message.headers?.keys() ?? []) headers[name] = message.headers!.get(name);
        messages.push({
          id: message.headers?.get("Nats-Msg-Id") || undefined,
          body: message.string(),
          headers,
          contentType: message.headers?.get("Content-Type") || undefined,
          // JetStream stores every message; the streams here use file storage.
          persistent: true,
        });
        // Wait for the server to take the ack, so a count right after sees the message gone.
        await message.ackAck();
        if (messages.length === expected) break;
      }
      return messages;
    },
    async cleanup() {
      for (const name of streams) await jsm.streams.delete(name).catch(() => undefined);
      await connection.drain();
    },
  };
}

export const HARNESSES: Readonly<Record<BrokerName, () => Promise<BrokerHarness>>> = {
  rabbitmq: rabbitHarness,
  nats: natsHarness,
};

export const BROKER_NAMES = Object.keys(HARNESSES) as BrokerName[];
