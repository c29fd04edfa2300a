import { hostname } from "node:os";
import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type PubAck,
} from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { describeError, redactUrl } from "../../../sources/errors.js";
import { natsConnectionOptions } from "../connection.js";
import type { Logger } from "pino";
import {
  cappedBackoffMs,
  RECONNECT_FIRST_MS,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
  sleep,
  withJitter,
} from "../../../util/backoff.js";
import type { BrokerConsumer, ConsumerHooks, ConsumerOptions, Delivery } from "../../../consumer/types.js";
import { NatsDelivery, type DeliveryOwner, type OriginalMessage } from "./delivery.js";
import { PULL_EXPIRES_MS, PullLoop } from "./pull-loop.js";
import { PullWindow } from "./pull-window.js";
import type { PulledMessage } from "./pulled-message.js";
import {
  ATTEMPTS_HEADER,
  DEAD_AT_HEADER,
  MESSAGE_ID_HEADER,
  ORIGIN_CONSUMER_HEADER,
  ORIGIN_SEQUENCE_HEADER,
  ORIGIN_STREAM_HEADER,
  ORIGIN_SUBJECT_HEADER,
  REASON_HEADER,
  deadLetterMsgId,
  exhaustedConsumerName,
  messageId,
  parseMaxDeliveriesAdvisory,
} from "./message.js";
import type { NatsTarget } from "./settings.js";
import { Settlements } from "./settlements.js";
import { prepareTopology } from "./topology.js";

function nanosToMs(nanoseconds: number): number {
  return Math.round(nanoseconds / 1_000_000);
}

/** How long a failed attempt to dead-letter an exhausted message waits before the next. */
const EXHAUSTED_RETRY_MS = 1000;

/**
 * Consumes a JetStream durable pull consumer with its own pull loop (pull-loop.ts), holding at
 * most `concurrency` messages: it asks only for as many as handlers have room for, so none waits
 * in the client while its ack_wait runs. Retries are `nak(delay)`; dead letters are published
 * (and stored) to a subject with the reason in headers, then acked; `max_deliver` of a declared consumer is
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
export class NatsConsumer implements BrokerConsumer, DeliveryOwner {
  readonly description: string;
  private connection: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private pulls: PullLoop | undefined;
  private window: PullWindow;
  /**
   * Arrived while every slot was busy. The window asks only for free slots, so this stays empty
   * unless the server sends more than asked; such a message waits here, never over CONCURRENCY.
   */
  private readonly waiting: PulledMessage[] = [];
  private onDelivery: ((delivery: Delivery) => void) | undefined;
  private advisories: ConsumerMessages | undefined;
  private advisoryLoop: Promise<void> | undefined;
  private exhaustedStream = "";
  private workQueueStream = false;
  private readonly stopController = new AbortController();
  private reconnectAttempts = 0;
  private readonly inFlight = new Set<NatsDelivery>();
  private progressTimer: NodeJS.Timeout | undefined;
  /** Acks and naks of a turn, then the request for as many messages as they freed: one write. */
  private readonly settlements = new Settlements(() => this.refill());

  constructor(
    private readonly target: NatsTarget,
    private readonly options: ConsumerOptions,
    private readonly hooks: ConsumerHooks,
  ) {
    this.description = `${target.stream}/${target.consumer}`;
    this.window = new PullWindow(options.concurrency);
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
      ({ workQueueStream: this.workQueueStream, exhaustedStream: this.exhaustedStream } = await prepareTopology(
        manager,
        this.target,
        this.options,
        this.logger,
      ));
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
    const info = await manager.consumers.info(this.target.stream, this.target.consumer);
    // JetStream's default ack_wait is 30 s.
    this.keepLongMessagesAlive(nanosToMs(info.config.ack_wait ?? 30e9));
    // A consumer with a max_batch refuses a larger request.
    this.window = new PullWindow(this.options.concurrency, info.config.max_batch || this.options.concurrency);
    this.hooks.onConnectionChange(true);
    // stop() may have come while connecting.
    if (this.stopController.signal.aborted) return;
    this.onDelivery = onDelivery;
    this.pulls = new PullLoop({
      connection,
      stream: this.target.stream,
      consumer: this.target.consumer,
      window: this.window,
      logger: this.logger,
      // A consumer with a shorter max_expires refuses a longer request.
      expiresMs: Math.min(PULL_EXPIRES_MS, nanosToMs(info.config.max_expires ?? 0) || PULL_EXPIRES_MS),
      onMessage: this.received,
    });
    this.pulls.start();
    this.logger.info({ stream: this.target.stream, consumer: this.target.consumer }, "consuming");
  }

  async stopConsuming(): Promise<void> {
    this.stopController.abort();
    this.pulls?.stop();
    this.advisories?.stop();
    // Messages pulled but not yet handed out are given back for another replica.
    for (const message of this.waiting.splice(0)) {
      this.window.settled();
      this.settlements.add(() => message.nak());
    }
    await this.advisoryLoop;
  }

  async close(): Promise<void> {
    await this.stopConsuming();
    clearInterval(this.progressTimer);
    // Acks and naks still queued for this turn go out before the connection drains.
    this.settlements.flush();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      // drain() flushes the acks still buffered before closing.
      await connection.drain().catch(() => connection.close().catch(() => undefined));
    }
    this.hooks.onConnectionChange(false);
  }

  /** A delivery was settled (or handed back): its slot is free again; its ack or nak leaves with this turn's. */
  settled(delivery: NatsDelivery, send: () => void): boolean {
    this.inFlight.delete(delivery);
    this.window.settled();
    const connection = this.connection;
    if (!connection || connection.isClosed()) return false;
    this.settlements.add(send);
    return true;
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

  /** A message read from the socket: to a handler at once while a slot is free. */
  private readonly received = (message: PulledMessage): void => {
    if (this.stopController.signal.aborted) {
      // Read after stopping: never handled; give it back for another replica.
      this.window.settled();
      this.settlements.add(() => message.nak());
    } else if (this.inFlight.size < this.options.concurrency && this.waiting.length === 0) {
      this.deliver(message);
    } else {
      this.waiting.push(message);
    }
  };

  private deliver(message: PulledMessage): void {
    const delivery = new NatsDelivery(message, this);
    this.inFlight.add(delivery);
    this.onDelivery!(delivery);
  }

  /** After a turn's settlements: hands waiting messages to the freed slots, then asks for more. */
  private refill(): void {
    if (this.stopController.signal.aborted) return;
    while (this.waiting.length > 0 && this.inFlight.size < this.options.concurrency) {
      this.deliver(this.waiting.shift()!);
    }
    this.pulls?.pull();
  }

  private async watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      switch (status.type) {
        case "disconnect":
          this.pulls?.disconnected();
          this.hooks.onConnectionChange(false);
          this.logger.warn({ url: redactUrl(this.target.url) }, "NATS connection lost; reconnecting");
          break;
        case "reconnect":
          this.reconnectAttempts = 0;
          this.pulls?.reconnected();
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
}
