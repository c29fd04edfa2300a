import { hostname } from "node:os";
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from "amqplib";
import { describeError, redactUrl } from "../../../sources/errors.js";
import type { Logger } from "pino";
import { reconnectDelayMs, sleep } from "../../../util/backoff.js";
import { oneLine } from "../../../consumer/headers.js";
import { onThrowawayChannel } from "../throwaway-channel.js";
import {
  ATTEMPTS_HEADER,
  DEAD_AT_HEADER,
  LAST_ERROR_HEADER,
  ORIGIN_HEADER,
  RabbitMqMessage,
  REASON_HEADER,
  RETRIES_HEADER,
  copyProperties,
  deadQueueName,
  retriesOf,
  retryQueueName,
  type QueueKind,
} from "./message.js";
import {
  TopologyError,
  type BrokerConsumer,
  type ConsumerHooks,
  type ConsumerOptions,
  type Delivery,
} from "../../../consumer/types.js";

/** The channel messages came on. Delivery tags belong to it: once closed, nothing is settled through it. */
interface DeliveryChannel {
  readonly channel: ConfirmChannel;
  open: boolean;
}

function publishConfirmed(
  session: DeliveryChannel,
  queue: string,
  body: Buffer,
  options: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    session.channel.sendToQueue(queue, body, options, (error: unknown) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
    );
  });
}

class RabbitMqDelivery implements Delivery {
  readonly message: RabbitMqMessage;

  constructor(
    private readonly session: DeliveryChannel,
    private readonly raw: ConsumeMessage,
    private readonly queue: string,
    kind: QueueKind,
  ) {
    this.message = new RabbitMqMessage(raw, queue, kind);
  }

  async ack(): Promise<boolean> {
    if (!this.session.open) return false;
    try {
      this.session.channel.ack(this.raw);
      return true;
    } catch {
      return false;
    }
  }

  async retry(delayMs: number, reason: string): Promise<boolean> {
    const properties = copyProperties(this.raw, {
      [RETRIES_HEADER]: retriesOf(this.raw.properties.headers, this.queue) + 1,
      [LAST_ERROR_HEADER]: oneLine(reason),
    });
    // The retry queue dead-letters the copy back into the work queue when its TTL runs out.
    properties.expiration = String(Math.max(0, Math.round(delayMs)));
    return this.republish(retryQueueName(this.queue), properties);
  }

  async deadLetter(reason: string): Promise<boolean> {
    const properties = copyProperties(this.raw, {
      [REASON_HEADER]: oneLine(reason),
      [ATTEMPTS_HEADER]: this.message.attempt,
      [ORIGIN_HEADER]: this.queue,
      [DEAD_AT_HEADER]: new Date().toISOString(),
    });
    return this.republish(deadQueueName(this.queue), properties);
  }

  release(): void {
    if (!this.session.open) return;
    try {
      this.session.channel.nack(this.raw, false, true);
    } catch {
      // The channel closed meanwhile: the broker requeues the message by itself.
    }
  }

  /** Publishes the copy with a confirm, and only then acks the original on the same live channel. */
  private async republish(queue: string, properties: Options.Publish): Promise<boolean> {
    if (!this.session.open) return false;
    try {
      await publishConfirmed(this.session, queue, this.raw.content, properties);
    } catch (error) {
      if (!this.session.open) return false;
      throw error;
    }
    return this.ack();
  }
}

/**
 * Consumes one queue on one confirm channel with prefetch = concurrency. Retries go through
 * `<queue>.retry` (per-message TTL, dead-lettering back to the queue), dead letters to `<queue>.dead`;
 * both are published with confirms before the original is acked. A lost connection is re-opened
 * with capped backoff; messages of the lost channel are never settled on the new one.
 */
export class RabbitMqConsumer implements BrokerConsumer {
  readonly description: string;
  private connection: ChannelModel | undefined;
  private session: DeliveryChannel | undefined;
  private consumerTag: string | undefined;
  private onDelivery: ((delivery: Delivery) => void) | undefined;
  private readonly stopController = new AbortController();
  private reconnecting: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly queue: string,
    private readonly options: ConsumerOptions,
    private readonly hooks: ConsumerHooks,
  ) {
    this.description = queue;
  }

  private get logger(): Logger {
    return this.hooks.logger;
  }

  async start(onDelivery: (delivery: Delivery) => void): Promise<void> {
    this.onDelivery = onDelivery;
    await this.connectUntilConsuming(true);
  }

  async stopConsuming(): Promise<void> {
    this.stopController.abort();
    const { session, consumerTag } = this;
    if (session?.open && consumerTag) {
      try {
        await session.channel.cancel(consumerTag);
      } catch (error) {
        this.logger.debug({ error: describeError(error) }, "cancel failed; the connection is closing anyway");
      }
    }
  }

  async close(): Promise<void> {
    this.stopController.abort();
    await this.reconnecting;
    const connection = this.connection;
    const session = this.session;
    this.connection = undefined;
    this.session = undefined;
    if (session?.open) {
      // Closing the channel first flushes its acks: amqplib writes connection.close straight to the
      // socket, ahead of channel frames still queued, and the broker ignores what follows it.
      await session.channel.close().catch(() => undefined);
      session.open = false;
    }
    if (connection) {
      try {
        await connection.close();
      } catch {
        // Already closed.
      }
    }
    this.hooks.onConnectionChange(false);
  }

  /**
   * Tries until consuming. At start a topology error ends it (the deployment is wrong); after a
   * reconnect it is retried like a connection error (the queue may be re-created).
   */
  private async connectUntilConsuming(topologyIsFatal: boolean): Promise<void> {
    const signal = this.stopController.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.connectOnce();
        return;
      } catch (error) {
        if (error instanceof TopologyError && topologyIsFatal) throw error;
        const delayMs = reconnectDelayMs(attempt);
        const log = attempt === 1 ? this.logger.warn : this.logger.debug;
        log.call(
          this.logger,
          { url: redactUrl(this.url), error: describeError(error), retryInMs: delayMs },
          "cannot consume from RabbitMQ; retrying",
        );
        await sleep(delayMs, signal);
      }
    }
  }

  private async connectOnce(): Promise<void> {
    const connection = await amqp.connect(this.url, {
      clientProperties: { connection_name: `queuescale-worker ${hostname()} ${process.pid}` },
    });
    try {
      connection.on("error", (error: Error) => {
        this.logger.warn({ error: describeError(error) }, "RabbitMQ connection error");
      });
      const kind = await this.prepareTopology(connection);
      const channel = await connection.createConfirmChannel();
      const session: DeliveryChannel = { channel, open: true };
      channel.on("error", (error: Error) => {
        this.logger.warn({ error: describeError(error) }, "RabbitMQ channel error");
      });
      channel.on("close", () => {
        session.open = false;
        // A channel closed under a live connection (e.g. an ack the broker refused) would leave the
        // worker idle: drop the connection so the reconnect path opens a fresh one.
        if (this.connection === connection) void connection.close().catch(() => undefined);
      });
      connection.on("close", () => this.lost(connection, session));
      await channel.prefetch(this.options.concurrency);
      this.connection = connection;
      this.session = session;
      const onDelivery = this.onDelivery!;
      const { consumerTag } = await channel.consume(
        this.queue,
        (raw) => {
          // null: the broker cancelled the consumer (queue deleted); reconnecting re-checks the queue.
          if (raw === null) {
            this.logger.warn({ queue: this.queue }, "RabbitMQ cancelled the consumer");
            void connection.close().catch(() => undefined);
            return;
          }
          onDelivery(new RabbitMqDelivery(session, raw, this.queue, kind));
        },
        { noAck: false },
      );
      this.consumerTag = consumerTag;
      // stop() may have come while connecting.
      if (this.stopController.signal.aborted) await channel.cancel(consumerTag);
      this.hooks.onConnectionChange(true);
      this.logger.info({ queue: this.queue, prefetch: this.options.concurrency }, "consuming");
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  private lost(connection: ChannelModel, session: DeliveryChannel): void {
    session.open = false;
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.session = undefined;
    this.hooks.onConnectionChange(false);
    if (this.stopController.signal.aborted) return;
    this.logger.warn({ queue: this.queue }, "RabbitMQ connection lost; reconnecting");
    this.reconnecting = this.connectUntilConsuming(false);
  }

  /**
   * DECLARE=true: a missing work queue is created as a quorum queue (it counts redeliveries, which
   * the crash guard needs); an existing one is accepted whatever its type. The retry queue caps
   * message TTL at RETRY_MAX_DELAY_SECONDS, so a message without its own expiry cannot hold the head
   * (per-message TTLs expire only there) and block every retry behind it. Queues that exist with other
   * arguments are kept as they are, with a warning. DECLARE=false: everything must exist.
   */
  private async prepareTopology(connection: ChannelModel): Promise<QueueKind> {
    const { queue } = this;
    if (!this.options.declare) {
      for (const name of [queue, retryQueueName(queue), deadQueueName(queue)]) {
        if (!(await this.exists(connection, name))) {
          throw new TopologyError(`queue ${JSON.stringify(name)} does not exist; create it, or set DECLARE=true`);
        }
      }
      return "unknown";
    }
    const kind = await this.declareWorkQueue(connection);
    const retryArguments = { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue };
    await this.declareOrKeep(connection, retryQueueName(queue), {
      ...retryArguments,
      "x-message-ttl": Math.max(1, Math.ceil(this.options.retryMaxDelayMs)),
    });
    await this.declareOrKeep(connection, deadQueueName(queue), {});
    return kind;
  }

  private async declareWorkQueue(connection: ChannelModel): Promise<QueueKind> {
    if (await this.tryDeclare(connection, this.queue, { "x-queue-type": "quorum" })) return "quorum";
    if (await this.tryDeclare(connection, this.queue, { "x-queue-type": "classic" })) {
      this.logger.warn(
        { queue: this.queue },
        "classic queue: redeliveries are not counted, so a message whose handler kills the process is redelivered without end (no crash guard); a quorum queue has one",
      );
      return "classic";
    }
    await this.mustExist(connection, this.queue);
    this.logger.warn({ queue: this.queue }, "queue exists with other arguments; kept as it is");
    return "unknown";
  }

  private async declareOrKeep(connection: ChannelModel, name: string, args: Record<string, unknown>): Promise<void> {
    if (await this.tryDeclare(connection, name, args)) return;
    await this.mustExist(connection, name);
    this.logger.warn(
      { queue: name, wanted: args },
      "queue exists with other arguments; kept as it is (delete it while empty to get them)",
    );
  }

  /** Declares durably on a throwaway channel (a refused declare closes it); false when it exists with other arguments. */
  private async tryDeclare(connection: ChannelModel, name: string, args: Record<string, unknown>): Promise<boolean> {
    return onThrowawayChannel(connection, async (channel) => {
      try {
        await channel.assertQueue(name, { durable: true, arguments: args });
        return true;
      } catch (error) {
        if ((error as { code?: unknown }).code === 406) return false;
        throw error;
      }
    });
  }

  private async exists(connection: ChannelModel, name: string): Promise<boolean> {
    return onThrowawayChannel(connection, async (channel) => {
      try {
        await channel.checkQueue(name);
        return true;
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) return false;
        throw error;
      }
    });
  }

  private async mustExist(connection: ChannelModel, name: string): Promise<void> {
    if (!(await this.exists(connection, name))) {
      throw new TopologyError(`queue ${JSON.stringify(name)} could be neither declared nor found`);
    }
  }
}
