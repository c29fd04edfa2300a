import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { uniqueName } from "../names.js";
import { deleteStreams } from "./streams.js";
import type { BrokerHarness, DeadLetter, ProducerTarget, StoredMessage, WorkerTarget } from "../broker-harness.js";

/** The shared local nats-server's port. */
const NATS_PORT = 4222;

/**
 * A work-queue stream with file storage on subjects `<name>.>`, as deployments use; with
 * `maxMessages`, one that refuses (rather than drops old) messages past that many.
 */
function addWorkQueueStream(manager: JetStreamManager, name: string, maxMessages?: number) {
  return manager.streams.add({
    name,
    subjects: [`${name}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    ...(maxMessages === undefined ? {} : { max_msgs: maxMessages, discard: DiscardPolicy.New }),
  });
}

export interface NatsWorkerTarget extends WorkerTarget {
  readonly stream: string;
  readonly consumer: string;
  /** Max-deliveries advisories stored and not yet handled by a worker. */
  exhaustedAdvisories(): Promise<number>;
  /** Messages of the work consumer not yet delivered plus those delivered and not yet acked. */
  consumerPending(): Promise<number>;
}

export interface NatsHarness extends BrokerHarness {
  workerTarget(): Promise<NatsWorkerTarget>;
}

async function workerTarget(serverPort: number): Promise<NatsWorkerTarget> {
  const stream = uniqueName("worker_test");
  const consumer = "workers";
  const subject = `${stream}.jobs`;
  const deadStream = `${stream}_DEAD`;
  const exhaustedStream = `${deadStream}_EXHAUSTED`;
  const url = (port = serverPort) => `nats://127.0.0.1:${port}`;
  const connection = await connect({ servers: url() });
  const manager = await jetstreamManager(connection);
  const js = jetstream(connection);
  await addWorkQueueStream(manager, stream);
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
      try {
        await deleteStreams(manager, [stream, deadStream, exhaustedStream]);
      } finally {
        await connection.close().catch(() => undefined);
      }
    },
  };
}

/**
 * The producer publishes queue NAME to subject `<STREAM>.NAME`; a queue here is a durable consumer
 * filtered on that subject, on a stream of the target's own.
 */
async function producerTarget(serverPort: number): Promise<ProducerTarget> {
  const connection = await connect({ servers: `127.0.0.1:${serverPort}` });
  const manager = await jetstreamManager(connection);
  const js = jetstream(connection);
  const streams = new Set<string>();
  const addStream = async (name: string, maxMessages?: number) => {
    streams.add(name);
    await addWorkQueueStream(manager, name, maxMessages);
  };
  const addConsumer = async (stream: string, queue = uniqueName("qs-producer")) => {
    await manager.consumers.add(stream, {
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
    brokerPort: serverPort,
    // Listings come from the JetStream API over the same connection URL.
    listingPort: serverPort,
    settings: (port = serverPort) => ({ BROKER: "nats", NATS_URL: `nats://127.0.0.1:${port}`, STREAM: stream }),
    async createQueue(name) {
      const queue = await addConsumer(stream, name);
      streamOf.set(queue, stream);
      return queue;
    },
    async createFullQueue(max) {
      const limited = uniqueName("qs-producer-full");
      await addStream(limited, max);
      const queue = await addConsumer(limited);
      streamOf.set(queue, limited);
      return { queue, settings: { STREAM: limited } };
    },
    missingQueue: () => uniqueName("qs-producer-missing"),
    async exists(queue) {
      try {
        await manager.consumers.info(streamOf.get(queue) ?? stream, queue);
        return true;
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return false;
        throw error;
      }
    },
    async count(queue) {
      const info = await manager.consumers.info(streamOf.get(queue) ?? stream, queue);
      return info.num_pending + info.num_ack_pending;
    },
    async purge(queue) {
      const owner = streamOf.get(queue) ?? stream;
      await manager.streams.purge(owner, { filter: `${owner}.${queue}` });
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
      try {
        await deleteStreams(manager, streams);
      } finally {
        await connection.drain();
      }
    },
  };
}

/** Streams of their own on the nats-server at `serverPort` (default: the shared local one). */
export function natsHarnessAt(serverPort = NATS_PORT): NatsHarness {
  return {
    broker: "nats",
    brokerPort: serverPort,
    workerTarget: () => workerTarget(serverPort),
    producerTarget: () => producerTarget(serverPort),
  };
}

export const natsHarness = natsHarnessAt();
