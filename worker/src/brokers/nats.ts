import { hostname } from "node:os";
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type PubAck,
} from "@nats-io/jetstream";
import { connect, headers as natsHeaders, nanos, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import {
  ConfigError,
  describeError,
  listSetting,
  natsConnectionOptions,
  natsModule,
  redactUrl,
  secondsSetting,
  Semaphore,
  urlSetting,
  type DepthSource,
  type Logger,
} from "@queuescale/core";
import {
  cappedBackoffMs,
  RECONNECT_FIRST_MS,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
  sleep,
  withJitter,
} from "../backoff.js";
import { exactNames } from "../depth.js";
import { oneLine } from "./headers.js";
import {
  ATTEMPTS_HEADER,
  DEAD_AT_HEADER,
  MESSAGE_ID_HEADER,
  NatsMessage,
  ORIGIN_CONSUMER_HEADER,
  ORIGIN_SEQUENCE_HEADER,
  ORIGIN_STREAM_HEADER,
  ORIGIN_SUBJECT_HEADER,
  REASON_HEADER,
  deadLetterMsgId,
  defaultDeadLetterStream,
  defaultDeadLetterSubject,
  defaultExhaustedStream,
  exhaustedConsumerName,
  maxDeliveriesSubject,
  messageId,
  parseMaxDeliveriesAdvisory,
} from "./nats-message.js";
import {
  TopologyError,
  type BrokerConsumer,
  type ConsumerHooks,
  type ConsumerOptions,
  type Delivery,
  type WorkerBrokerModule,
} from "./types.js";

export const natsWorkerSettings = {
  NATS_URL: urlSetting(["nats", "tls", "ws", "wss"])
    .optional()
    .describe("NATS server URL (nats://user:pass@host:4222 or nats://token@host:4222). Required when BROKER=nats."),
  STREAM: z.string().optional().describe("JetStream stream of the consumer. Required when BROKER=nats."),
  CONSUMER: z.string().optional().describe("Durable pull consumer to consume. Required when BROKER=nats."),
  SUBJECTS: listSetting()
    .optional()
    .describe("Comma-separated subjects of the stream, for DECLARE=true when the stream does not exist yet."),
  NATS_ACK_WAIT_SECONDS: secondsSetting(30, { min: 1, max: 86_400 }).describe(
    "ack_wait of a consumer DECLARE creates: how long a message may run before JetStream redelivers it. 1 to 86400. Default 30.",
  ),
  NATS_DEAD_LETTER_SUBJECT: z
    .string()
    .optional()
    .describe("Subject dead letters are published to. Default queuescale.dead.<STREAM>.<CONSUMER>."),
  NATS_DEAD_LETTER_STREAM: z
    .string()
    .optional()
    .describe("Stream DECLARE creates to keep dead letters. Default <STREAM>_DEAD."),
};

type NatsWorkerSettings = z.infer<z.ZodObject<typeof natsWorkerSettings>>;

interface NatsTarget {
  url: string;
  stream: string;
  consumer: string;
  subjects: string[] | undefined;
  ackWaitMs: number;
  deadLetterSubject: string;
  deadLetterStream: string;
}

function nanosToMs(nanoseconds: number): number {
  return Math.round(nanoseconds / 1_000_000);
}

/** A stored message to copy to the dead letters: a delivery, or one read back from its stream. */
interface OriginalMessage {
  stream: string;
  consumer: string;
  subject: string;
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

/** How long a failed attempt to dead-letter an exhausted message waits before the next. */
const EXHAUSTED_RETRY_MS = 1000;

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

class NatsDelivery implements Delivery {
  readonly message: NatsMessage;
  readonly startedMs = Date.now();
  private done = false;

  constructor(
    readonly raw: JsMsg,
    private readonly consumer: NatsConsumer,
  ) {
    this.message = new NatsMessage(raw);
  }

  async ack(): Promise<boolean> {
    return this.settle(() => this.raw.ack());
  }

  async retry(delayMs: number): Promise<boolean> {
    return this.settle(() => this.raw.nak(Math.max(0, Math.round(delayMs))));
  }

  async deadLetter(reason: string): Promise<boolean> {
    if (this.done) return false;
    const { raw } = this;
    // The copy must be stored (PubAck) before the original is removed. Removed with an ack, not
    // `term`: nats-server 2.9 ignores a `term` with a reason, and keeps a `term`ed message in a
    // work-queue stream; an ack removes it on every version.
    const original = {
      stream: raw.info.stream,
      consumer: raw.info.consumer,
      subject: raw.subject,
      seq: raw.seq,
      data: raw.data,
      headers: raw.headers,
    };
    await this.consumer.publishDeadLetter(original, oneLine(reason), this.message.attempt);
    return this.settle(() => raw.ack());
  }

  release(): void {
    void this.settle(() => this.raw.nak());
  }

  private settle(action: () => void): boolean {
    if (this.done) return false;
    this.done = true;
    this.consumer.settled(this);
    try {
      action();
      return true;
    } catch {
      // The connection is closed for good: JetStream redelivers after ack_wait.
      return false;
    }
  }
}

/**
 * Consumes a JetStream durable pull consumer with `consume()`, keeping at most `concurrency`
 * messages in the handler. Retries are `nak(delay)`; dead letters are published (and stored) to a
 * subject with the reason in headers, then acked; `max_deliver` of a declared consumer is
 * MAX_ATTEMPTS + 1, so a message whose last attempt crashed its worker still reaches the dead
 * letters. The client reconnects by itself; an ack sent after a reconnect is still valid for
 * JetStream, which keys acks by the message's reply subject, not by the connection.
 *
 * A message can still reach `max_deliver` without a worker seeing its last delivery (nats-server
 * 2.9 reports delivery count 1 to every redelivery after a crash; a crashed worker's pull requests
 * outlive it). JetStream then stops delivering it and keeps it in the stream, counted nowhere. The
 * MAX_DELIVERIES advisory it publishes is stored in a work-queue stream, so it waits for a worker
 * even when none runs; workers share a durable consumer of it, copy the original to the dead
 * letters (deduplicated by Nats-Msg-Id) and remove it from its work-queue stream.
 */
export class NatsConsumer implements BrokerConsumer {
  readonly description: string;
  private connection: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private messages: ConsumerMessages | undefined;
  private advisories: ConsumerMessages | undefined;
  private advisoryLoop: Promise<void> | undefined;
  private exhaustedStream = "";
  private workQueueStream = false;
  private readonly slots: Semaphore;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private reconnectAttempts = 0;
  private readonly inFlight = new Set<NatsDelivery>();
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: NatsTarget,
    private readonly options: ConsumerOptions,
    private readonly hooks: ConsumerHooks,
  ) {
    this.description = `${target.stream}/${target.consumer}`;
    this.slots = new Semaphore(options.concurrency);
  }

  private get logger(): Logger {
    return this.hooks.logger;
  }

  async start(onDelivery: (delivery: Delivery) => void): Promise<void> {
    const connection = await this.connectUntilUp();
    if (!connection) return;
    this.connection = connection;
    void this.watchStatus(connection);
    const manager = await jetstreamManager(connection);
    try {
      await this.prepareTopology(manager);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    this.js = jetstream(connection);
    // Advisories of messages that ran out of deliveries, including while no worker ran.
    const exhausted = await this.js.consumers.get(this.exhaustedStream, exhaustedConsumerName(this.target.consumer));
    const advisories = await exhausted.consume({ max_messages: 1 });
    this.advisories = advisories;
    if (this.stopController.signal.aborted) advisories.stop();
    this.advisoryLoop = this.handleAdvisories(advisories, manager);
    const consumer = await this.js.consumers.get(this.target.stream, this.target.consumer);
    // JetStream's default ack_wait is 30 s.
    this.keepLongMessagesAlive(nanosToMs((await consumer.info(true)).config.ack_wait ?? 30e9));
    const messages = await consumer.consume({ max_messages: this.options.concurrency });
    this.messages = messages;
    // stop() may have come while connecting: the loop then only gives back what was pulled.
    if (this.stopController.signal.aborted) messages.stop();
    this.hooks.onConnectionChange(true);
    this.logger.info({ stream: this.target.stream, consumer: this.target.consumer }, "consuming");
    this.loop = this.dispatch(messages, onDelivery);
  }

  async stopConsuming(): Promise<void> {
    this.stopController.abort();
    this.slots.close();
    this.messages?.stop();
    this.advisories?.stop();
    // Messages pulled but not yet handed out are given back by the loop as it empties.
    await this.loop;
    await this.advisoryLoop;
  }

  async close(): Promise<void> {
    await this.stopConsuming();
    clearInterval(this.progressTimer);
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      // drain() flushes the acks still buffered before closing.
      await connection.drain().catch(() => connection.close().catch(() => undefined));
    }
    this.hooks.onConnectionChange(false);
  }

  /** A delivery was settled (or handed back): its slot is free again. */
  settled(delivery: NatsDelivery): void {
    this.inFlight.delete(delivery);
    this.slots.give();
  }

  /**
   * A handler may run longer than the consumer's ack_wait; JetStream would then redeliver its
   * message to another replica while it is still being worked on. Every third of ack_wait, each
   * message in flight for longer than that tells the server it is still in progress (`working()`).
   */
  private keepLongMessagesAlive(ackWaitMs: number): void {
    const everyMs = Math.max(100, Math.floor(ackWaitMs / 3));
    this.progressTimer = setInterval(() => {
      const startedBefore = Date.now() - everyMs;
      for (const delivery of this.inFlight) {
        if (delivery.startedMs > startedBefore) continue;
        try {
          delivery.raw.working();
        } catch {
          // Closed connection: nothing to keep alive.
        }
      }
    }, everyMs);
    this.progressTimer.unref();
  }

  /** Stores a copy of `original` as a dead letter; `duplicate` when one was stored already. */
  async publishDeadLetter(original: OriginalMessage, reason: string, attempt: number): Promise<PubAck> {
    const js = this.js;
    if (!js) throw new Error("not connected");
    const headers = natsHeaders();
    if (original.headers) {
      for (const key of original.headers.keys()) {
        // The original's Nats-Msg-Id would make JetStream drop the copy as a duplicate of it.
        if (key === "Nats-Msg-Id") continue;
        for (const value of original.headers.values(key)) headers.append(key, value);
      }
    }
    headers.set(REASON_HEADER, reason);
    headers.set(ATTEMPTS_HEADER, String(attempt));
    headers.set(ORIGIN_STREAM_HEADER, original.stream);
    headers.set(ORIGIN_CONSUMER_HEADER, original.consumer);
    headers.set(ORIGIN_SUBJECT_HEADER, original.subject);
    headers.set(ORIGIN_SEQUENCE_HEADER, String(original.seq));
    headers.set(MESSAGE_ID_HEADER, messageId(original.headers, original.stream, original.seq));
    headers.set(DEAD_AT_HEADER, new Date().toISOString());
    return js.publish(this.target.deadLetterSubject, original.data, {
      headers,
      msgID: deadLetterMsgId(original.stream, original.consumer, original.seq),
    });
  }

  /** Handles MAX_DELIVERIES advisories one at a time until stopped. */
  private async handleAdvisories(advisories: ConsumerMessages, manager: JetStreamManager): Promise<void> {
    try {
      for await (const advisory of advisories) {
        try {
          await this.deadLetterExhausted(advisory, manager);
          advisory.ack();
        } catch (error) {
          // The advisory stays: this or another replica tries again.
          this.logger.warn(
            { error: describeError(error) },
            "could not dead-letter a message past max_deliver; retrying",
          );
          try {
            advisory.nak(EXHAUSTED_RETRY_MS);
          } catch {
            // Closed connection: JetStream redelivers it after ack_wait.
          }
        }
      }
    } catch (error) {
      if (!this.stopController.signal.aborted) {
        this.logger.error({ error: describeError(error) }, "JetStream advisory loop ended");
      }
    }
  }

  /** Copies the message an advisory names to the dead letters, once, and removes the original. */
  private async deadLetterExhausted(advisory: JsMsg, manager: JetStreamManager): Promise<void> {
    const { stream, consumer } = this.target;
    const parsed = parseMaxDeliveriesAdvisory(advisory.data);
    if (!parsed || parsed.stream !== stream || parsed.consumer !== consumer) {
      this.logger.warn(
        { subject: advisory.subject },
        "ignoring a message that is not a max_deliver advisory of this consumer",
      );
      return;
    }
    const seq = parsed.stream_seq;
    const stored = await manager.streams.getMessage(stream, { seq });
    // Gone already: dead-lettered and removed by another replica, or by the stream's limits.
    if (!stored) return;
    const deliveries = parsed.deliveries;
    const reason = `delivered ${deliveries} times (max_deliver) without being settled: each attempt crashed or lost its worker`;
    const pubAck = await this.publishDeadLetter(
      { stream, consumer, subject: stored.subject, seq, data: stored.data, headers: stored.header },
      reason,
      deliveries,
    );
    // A work-queue stream would keep it forever; other retentions keep it for their other consumers.
    if (this.workQueueStream) {
      try {
        await manager.streams.deleteMessage(stream, seq, false);
      } catch (error) {
        // Removed meanwhile by another replica (servers differ in the error they give for that).
        if (await manager.streams.getMessage(stream, { seq })) throw error;
      }
    }
    if (pubAck.duplicate) return;
    this.hooks.onDeadLettered?.();
    this.logger.warn(
      { messageId: messageId(stored.header, stream, seq), attempt: deliveries, reason },
      "message dead-lettered",
    );
  }

  private async dispatch(messages: ConsumerMessages, onDelivery: (delivery: Delivery) => void): Promise<void> {
    try {
      for await (const raw of messages) {
        let granted = this.slots.take();
        if (granted !== true && granted !== false) granted = await granted;
        if (!granted) {
          // Stopping: this one was pulled but never handled; give it back for another replica.
          raw.nak();
          continue;
        }
        const delivery = new NatsDelivery(raw, this);
        this.inFlight.add(delivery);
        onDelivery(delivery);
      }
    } catch (error) {
      if (!this.stopController.signal.aborted) {
        this.logger.error({ error: describeError(error) }, "JetStream consume loop ended");
      }
    }
  }

  private async watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      switch (status.type) {
        case "disconnect":
          this.hooks.onConnectionChange(false);
          this.logger.warn({ url: redactUrl(this.target.url) }, "NATS connection lost; reconnecting");
          break;
        case "reconnect":
          this.reconnectAttempts = 0;
          this.hooks.onConnectionChange(true);
          this.logger.info({ url: redactUrl(this.target.url) }, "NATS connection restored");
          break;
        default:
          break;
      }
    }
  }

  /** The first connection; afterwards the client reconnects by itself with the same capped backoff. */
  private async connectUntilUp(): Promise<NatsConnection | undefined> {
    const signal = this.stopController.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await connect({
          ...natsConnectionOptions(this.target.url),
          name: `queuescale-worker ${hostname()} ${process.pid}`,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () =>
            withJitter(cappedBackoffMs(++this.reconnectAttempts, RECONNECT_FIRST_MS, RECONNECT_MAX_MS)),
        });
      } catch (error) {
        const delayMs = reconnectDelayMs(attempt);
        const log = attempt === 1 ? this.logger.warn : this.logger.debug;
        log.call(
          this.logger,
          { url: redactUrl(this.target.url), error: describeError(error), retryInMs: delayMs },
          "cannot reach NATS; retrying",
        );
        await sleep(delayMs, signal);
      }
    }
    return undefined;
  }

  private async prepareTopology(manager: JetStreamManager): Promise<void> {
    const { stream, consumer, subjects, deadLetterSubject, deadLetterStream } = this.target;
    const declare = this.options.declare;
    try {
      const info = await manager.streams.info(stream);
      this.workQueueStream = info.config.retention === RetentionPolicy.Workqueue;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      if (!declare)
        throw new TopologyError(`stream ${JSON.stringify(stream)} does not exist; create it, or set DECLARE=true`);
      if (!subjects || subjects.length === 0) {
        throw new ConfigError("SUBJECTS", `required to create stream ${JSON.stringify(stream)} (DECLARE=true)`);
      }
      await manager.streams.add({
        name: stream,
        subjects,
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
      });
      this.workQueueStream = true;
      this.logger.info({ stream, subjects }, "stream created");
    }
    try {
      const info = await manager.consumers.info(stream, consumer);
      if (info.config.ack_policy !== AckPolicy.Explicit) {
        throw new TopologyError(`consumer ${JSON.stringify(consumer)} must have ack_policy explicit`);
      }
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      if (!declare) {
        throw new TopologyError(
          `consumer ${JSON.stringify(consumer)} of stream ${JSON.stringify(stream)} does not exist; create it, or set DECLARE=true`,
        );
      }
      await manager.consumers.add(stream, {
        durable_name: consumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.target.ackWaitMs),
        max_deliver: this.options.maxAttempts + 1,
      });
      this.logger.info({ stream, consumer }, "consumer created");
    }
    await this.prepareDeadLetters(manager, deadLetterSubject, deadLetterStream, declare);
    await this.prepareExhausted(manager, defaultExhaustedStream(deadLetterStream), declare);
  }

  /**
   * A stream keeping this consumer's MAX_DELIVERIES advisories (work-queue retention: each is
   * removed once handled) and the workers' durable consumer of it, which they create themselves.
   */
  private async prepareExhausted(manager: JetStreamManager, streamName: string, declare: boolean): Promise<void> {
    const { stream, consumer } = this.target;
    const subject = maxDeliveriesSubject(stream, consumer);
    try {
      this.exhaustedStream = await manager.streams.find(subject);
    } catch (error) {
      if (!declare) {
        throw new TopologyError(
          `no stream stores ${JSON.stringify(subject)} (${describeError(error)}); create a work-queue stream for it, or set DECLARE=true`,
        );
      }
      try {
        await ensureStreamStores(manager, streamName, subject, RetentionPolicy.Workqueue);
      } catch (creating) {
        await manager.streams.find(subject).catch(() => {
          throw creating;
        });
      }
      this.exhaustedStream = await manager.streams.find(subject);
    }
    const durable = exhaustedConsumerName(consumer);
    try {
      await manager.consumers.info(this.exhaustedStream, durable);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      const config = { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: subject };
      // Replicas race to create it: whoever loses finds it there.
      await manager.consumers.add(this.exhaustedStream, config).catch(async (creating: unknown) => {
        await manager.consumers.info(this.exhaustedStream, durable).catch(() => {
          throw creating;
        });
      });
    }
  }

  private async prepareDeadLetters(
    manager: JetStreamManager,
    subject: string,
    streamName: string,
    declare: boolean,
  ): Promise<void> {
    try {
      await manager.streams.find(subject);
      return;
    } catch (error) {
      if (!declare) {
        throw new TopologyError(
          `no stream stores dead-letter subject ${JSON.stringify(subject)} (${describeError(error)}); create one, or set DECLARE=true`,
        );
      }
    }
    // Replicas starting together race to create or extend the stream: whoever loses finds it done.
    try {
      await ensureStreamStores(manager, streamName, subject);
    } catch (error) {
      await manager.streams.find(subject).catch(() => {
        throw error;
      });
    }
    this.logger.info({ stream: streamName, subject }, "dead-letter stream ready");
  }
}

async function ensureStreamStores(
  manager: JetStreamManager,
  streamName: string,
  subject: string,
  retention: RetentionPolicy = RetentionPolicy.Limits,
): Promise<void> {
  try {
    const info = await manager.streams.info(streamName);
    const subjects = info.config.subjects ?? [];
    if (!subjects.includes(subject)) await manager.streams.update(streamName, { subjects: [...subjects, subject] });
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await manager.streams.add({ name: streamName, subjects: [subject], retention, storage: StorageType.File });
  }
}

export const natsWorkerModule: WorkerBrokerModule<typeof natsWorkerSettings> = {
  broker: "nats",
  settings: natsWorkerSettings,
  createConsumer(settings, options, hooks) {
    return new NatsConsumer(target(settings), options, hooks);
  },
  createDepthSources(settings: NatsWorkerSettings, logger: Logger): DepthSource[] {
    const { url, stream, consumer } = target(settings);
    return natsModule.createSources(
      { NATS_URL: url, NATS_MONITOR_URL: undefined },
      { filter: exactNames([stream, consumer]), logger },
    );
  },
  identity(settings) {
    const { stream, consumer } = target(settings);
    return { stream, consumer };
  },
};

function target(settings: NatsWorkerSettings): NatsTarget {
  if (!settings.NATS_URL) throw new ConfigError("NATS_URL", "required when BROKER=nats");
  if (!settings.STREAM) throw new ConfigError("STREAM", "required when BROKER=nats");
  if (!settings.CONSUMER) throw new ConfigError("CONSUMER", "required when BROKER=nats");
  return {
    url: settings.NATS_URL,
    stream: settings.STREAM,
    consumer: settings.CONSUMER,
    subjects: settings.SUBJECTS,
    ackWaitMs: settings.NATS_ACK_WAIT_SECONDS * 1000,
    deadLetterSubject:
      settings.NATS_DEAD_LETTER_SUBJECT ?? defaultDeadLetterSubject(settings.STREAM, settings.CONSUMER),
    deadLetterStream: settings.NATS_DEAD_LETTER_STREAM ?? defaultDeadLetterStream(settings.STREAM),
  };
}
