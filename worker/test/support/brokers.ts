import amqp from "amqplib";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { BrokerName } from "@queuescale/core";
import { uniqueName } from "@queuescale/test-support/names";

export interface TestMessage {
  id: string;
  body: Buffer;
}

export interface DeadLetter {
  id: string;
  reason: string;
  attempts: number;
  body: Buffer;
}

/** One queue (RabbitMQ) or stream + durable consumer (JetStream) a test owns. */
export interface BrokerTarget {
  readonly broker: BrokerName;
  /** The broker's port, for a TcpProxy in front of it. */
  readonly brokerPort: number;
  /** Identity labels of the depth series the worker publishes. */
  readonly identity: Record<string, string>;
  /** Worker settings for this target (DECLARE=true); `port` replaces the broker's port, for a proxy. */
  workerEnv(port?: number): Record<string, string>;
  /** Worker settings naming a target that does not exist, with DECLARE=false. */
  missingTargetEnv(): Record<string, string>;
  /** What a missing-target failure must name. */
  readonly missingTargetName: string;
  publish(messages: readonly TestMessage[]): Promise<void>;
  /** Messages not yet finished as the broker counts them (with no worker attached). */
  backlog(): Promise<number>;
  /** Every dead letter so far. */
  deadLetters(): Promise<DeadLetter[]>;
  cleanup(): Promise<void>;
}

export interface BrokerHarness {
  readonly broker: BrokerName;
  create(): Promise<BrokerTarget>;
}

/**
 * Runs `look` on a channel of its own and answers undefined when it fails: looking at a queue that
 * does not exist (yet: the worker declares its retry and dead-letter queues) closes the channel
 * that looked.
 */
export async function probeChannel<T>(
  connection: amqp.ChannelModel,
  look: (probing: amqp.Channel) => Promise<T>,
): Promise<T | undefined> {
  const probing = await connection.createChannel();
  probing.on("error", () => undefined);
  try {
    return await look(probing);
  } catch {
    return undefined;
  } finally {
    await probing.close().catch(() => undefined);
  }
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

const RABBITMQ_PORT = 5672;
const NATS_PORT = 4222;

export const rabbitmqHarness: BrokerHarness = {
  broker: "rabbitmq",
  async create() {
    const queue = uniqueName("worker-test");
    const url = (port = RABBITMQ_PORT) => `amqp://guest:guest@127.0.0.1:${port}`;
    const connection = await amqp.connect(url());
    const channel = await connection.createConfirmChannel();
    // The queue exists before the worker does, as it would with a producer running first.
    await channel.assertQueue(queue, { durable: true });
    const letters: DeadLetter[] = [];
    const probe = <T>(look: (probing: amqp.Channel) => Promise<T>) => probeChannel(connection, look);
    return {
      broker: "rabbitmq",
      brokerPort: RABBITMQ_PORT,
      identity: { vhost: "/", queue },
      missingTargetName: `${queue}-missing`,
      workerEnv: (port) => ({ BROKER: "rabbitmq", RABBITMQ_URL: url(port), QUEUE: queue, DECLARE: "true" }),
      missingTargetEnv: () => ({
        BROKER: "rabbitmq",
        RABBITMQ_URL: url(),
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
        const retry = await probe((probing) => probing.checkQueue(`${queue}.retry`));
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
  },
};

export interface NatsTarget extends BrokerTarget {
  readonly stream: string;
  readonly consumer: string;
  /** Max-deliveries advisories stored and not yet handled by a worker. */
  exhaustedAdvisories(): Promise<number>;
  /** Messages of the work consumer not yet delivered plus those delivered and not yet acked. */
  consumerPending(): Promise<number>;
}

export interface NatsHarness extends BrokerHarness {
  create(): Promise<NatsTarget>;
}

/** JetStream targets on the nats-server at `serverPort` (default: the shared broker). */
export function natsHarnessAt(serverPort = NATS_PORT): NatsHarness {
  return {
    broker: "nats",
    create: () => createNatsTarget(serverPort),
  };
}

export const natsHarness = natsHarnessAt();

async function createNatsTarget(serverPort: number): Promise<NatsTarget> {
  const stream = uniqueName("worker_test");
  const consumer = "workers";
  const subject = `${stream}.jobs`;
  const deadStream = `${stream}_DEAD`;
  const exhaustedStream = `${deadStream}_EXHAUSTED`;
  const url = (port = serverPort) => `nats://127.0.0.1:${port}`;
  const connection = await connect({ servers: url() });
  const manager = await jetstreamManager(connection);
  const js = jetstream(connection);
  await manager.streams.add({
    name: stream,
    subjects: [`${stream}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  return {
    broker: "nats",
    brokerPort: serverPort,
    stream,
    consumer,
    identity: { stream, consumer },
    missingTargetName: "missing",
    workerEnv: (port) => ({
      BROKER: "nats",
      NATS_URL: url(port),
      STREAM: stream,
      CONSUMER: consumer,
      DECLARE: "true",
      // Redelivery after a crash waits for ack_wait; tests do not want to wait 30 s.
      NATS_ACK_WAIT_SECONDS: "3",
    }),
    missingTargetEnv: () => ({
      BROKER: "nats",
      NATS_URL: url(),
      STREAM: stream,
      CONSUMER: "missing",
      DECLARE: "false",
    }),
    async publish(messages) {
      const batch = 200;
      for (let start = 0; start < messages.length; start += batch) {
        await Promise.all(
          messages
            .slice(start, start + batch)
            .map((message) => js.publish(subject, message.body, { msgID: message.id })),
        );
      }
    },
    async backlog() {
      // A work-queue stream drops a message once it is acked (dead letters are acked too), so
      // whatever it holds is not finished, including a message JetStream stopped delivering.
      return (await manager.streams.info(stream)).state.messages;
    },
    async exhaustedAdvisories() {
      const info = await manager.streams.info(exhaustedStream).catch(() => undefined);
      return info?.state.messages ?? 0;
    },
    async consumerPending() {
      const info = await manager.consumers.info(stream, consumer);
      return info.num_pending + info.num_ack_pending;
    },
    async deadLetters() {
      const letters: DeadLetter[] = [];
      const info = await manager.streams.info(deadStream).catch(() => undefined);
      if (!info) return letters;
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const stored = await manager.streams.getMessage(deadStream, { seq });
        if (!stored) continue;
        letters.push({
          id: stored.header.get("Queuescale-Message-Id"),
          reason: stored.header.get("Queuescale-Reason"),
          attempts: Number(stored.header.get("Queuescale-Attempts")),
          body: Buffer.from(stored.data),
        });
      }
      return letters;
    },
    async cleanup() {
      await manager.streams.delete(stream).catch(() => undefined);
      await manager.streams.delete(deadStream).catch(() => undefined);
      await manager.streams.delete(exhaustedStream).catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}
