import amqp, { type Channel, type ChannelModel, type RecoveringChannelModel } from "amqplib";
import { withTimeout, untilAborted, deferred } from "../../../util/promises.js";
import { vhostOfAmqpUrl } from "../amqp-reading.js";
import { describeError, redactUrl } from "../../../sources/errors.js";
import { vhostDepthSources } from "../plan.js";
import type { Logger } from "pino";
import type { QueueReading } from "../../../sources/types.js";
import { ExistenceCache, deadline } from "../../../publisher/existence-cache.js";
import { PublishChannelPool, answerWithin, openChannel, type PublishChannel } from "./channels.js";
import { PUBLISHED_AT_HEADER } from "../worker/message.js";
import {
  QueueOperationError,
  type BrokerClient,
  type OutgoingMessage,
  type PublishOutcome,
  type PublishSession,
} from "../../../publisher/types.js";

/** AMQP reply codes the admin operations map to HTTP statuses. */
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;

interface CurrentConnection {
  readonly connection: ChannelModel;
  readonly pool: PublishChannelPool;
}

function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** RABBITMQ_URL with the heartbeat the producer asks for (it replaces one given in the URL). */
function withHeartbeat(url: string, heartbeatSeconds: number): string {
  const parsed = new URL(url);
  parsed.searchParams.set("heartbeat", String(heartbeatSeconds));
  return parsed.toString();
}

/**
 * RabbitMQ: a queue is a durable queue in the vhost of RABBITMQ_URL. Messages go through the
 * default exchange (routing key = queue name) on a confirm channel of the request's own, persistent
 * and mandatory, so a queue deleted between the existence check and the publish comes back as a
 * return instead of being dropped silently.
 *
 * Every broker operation is bounded by PUBLISH_TIMEOUT_SECONDS: a connection whose peer stops
 * answering without resetting it (a black-holed network) would otherwise hang each one. Such a
 * connection is noticed by the AMQP heartbeat (RABBITMQ_HEARTBEAT_SECONDS), which closes it; the
 * producer is then not ready and reconnects.
 */
export class RabbitClient implements BrokerClient {
  readonly broker = "rabbitmq" as const;
  private readonly vhost: string;
  private readonly existing = new ExistenceCache();
  private live: CurrentConnection | undefined;
  private readonly model: Promise<RecoveringChannelModel>;
  private readonly firstConnect = deferred<void>();
  private closing = false;

  constructor(
    private readonly url: string,
    private readonly managementUrl: string | undefined,
    private readonly publishTimeoutMs: number,
    heartbeatSeconds: number,
    private readonly logger: Logger,
  ) {
    this.vhost = vhostOfAmqpUrl(url);
    this.firstConnect.promise.catch(() => undefined);
    // The library reconnects with backoff; channels do not survive a reconnect, so each new
    // connection gets a fresh channel pool in `setup`.
    this.model = amqp.connect(withHeartbeat(url, heartbeatSeconds), {
      clientProperties: { connection_name: "queuescale-producer" },
      // Bounds the TCP connect and the AMQP handshake; a stalled attempt is retried.
      timeout: publishTimeoutMs,
      recovery: {
        waitForConnect: false,
        initialDelay: 100,
        maxDelay: 5_000,
        // Must not wait on the broker: a setup that fails makes the library close the connection,
        // and closing a stalled connection never finishes, which would stop every later reconnect.
        setup: (connection: ChannelModel) => this.attach(connection),
      },
    });
    this.model.then(
      (model) => {
        model.on("disconnect", (error: Error) => {
          this.detach();
          if (!this.closing)
            this.logger.warn({ error: describeError(error) }, "RabbitMQ connection lost; reconnecting");
        });
        let failedAttempts = 0;
        model.on("connect", () => {
          failedAttempts = 0;
        });
        model.on("connect-failed", (error: Error) => {
          // One warning per outage; the retries after it are debug noise.
          const log = failedAttempts++ === 0 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
          log({ error: describeError(error) }, "cannot connect to RabbitMQ; retrying");
        });
        model.on("error", (error: Error) => {
          this.logger.warn({ error: describeError(error) }, "RabbitMQ connection error");
        });
      },
      (error: unknown) => this.firstConnect.reject(error),
    );
  }

  private attach(connection: ChannelModel): void {
    this.detach();
    const live: CurrentConnection = {
      connection,
      pool: new PublishChannelPool(connection, this.logger, this.publishTimeoutMs),
    };
    connection.on("close", () => {
      if (this.live === live) this.detach();
    });
    this.live = live;
    this.firstConnect.resolve();
    this.logger.info({ url: redactUrl(this.url) }, "connected to RabbitMQ");
  }

  private detach(): void {
    this.live?.pool.drop();
    this.live = undefined;
  }

  isConnected(): boolean {
    return this.live !== undefined;
  }

  waitUntilConnected(signal?: AbortSignal): Promise<void> {
    return untilAborted(this.firstConnect.promise, signal);
  }

  invalidQueueName(name: string): string | undefined {
    if (name.length === 0) return "must not be empty";
    if (Buffer.byteLength(name) > 255) return "must be at most 255 bytes";
    if (name.startsWith("amq.")) return "names starting with amq. are reserved by RabbitMQ";
    return undefined;
  }

  /**
   * Runs `operation` on a short-lived channel (a failed passive declare closes its channel), the
   * channel open and the operation each bounded by PUBLISH_TIMEOUT_SECONDS.
   */
  private async withChannel<T>(what: string, operation: (channel: Channel) => Promise<T>): Promise<T> {
    const connection = this.live?.connection;
    if (!connection) throw new QueueOperationError("unavailable", "not connected to RabbitMQ");
    const channel = await openChannel(() => connection.createChannel(), this.publishTimeoutMs, "a channel");
    let closed = false;
    channel.on("close", () => {
      closed = true;
    });
    try {
      return await answerWithin(operation(channel), this.publishTimeoutMs, what);
    } finally {
      // Not awaited: on a stalled connection the close-ok never comes.
      if (!closed) channel.close().catch(() => undefined);
    }
  }

  private async checkQueue(name: string): Promise<{ messageCount: number } | undefined> {
    try {
      return await this.withChannel("a queue check", (channel) => channel.checkQueue(name));
    } catch (error) {
      if (replyCode(error) === NOT_FOUND) return undefined;
      if (error instanceof QueueOperationError) throw error;
      throw new QueueOperationError("unavailable", `cannot check queue: ${describeError(error)}`, { cause: error });
    }
  }

  async queueExists(name: string): Promise<boolean> {
    if (this.existing.has(name)) return true;
    const found = (await this.checkQueue(name)) !== undefined;
    if (found) this.existing.remember(name);
    return found;
  }

  async publish(queue: string, messages: readonly OutgoingMessage[]): Promise<PublishOutcome[]> {
    const session = this.openSession(queue);
    try {
      return await session.publish(messages);
    } finally {
      session.close();
    }
  }

  openSession(queue: string): PublishSession {
    const live = this.live;
    let channel: Promise<PublishChannel> | undefined;
    // A channel with confirms outstanding (a timeout) or closed by the broker is not lent again.
    let reusable = true;
    return {
      publish: async (messages) => {
        const failAll = (detail: string) => messages.map(() => ({ ok: false, reason: "connection", detail }) as const);
        if (!live) return failAll("not connected to RabbitMQ");
        if (messages.length === 0) return [];
        channel ??= live.pool.acquire();
        let acquired: PublishChannel;
        try {
          acquired = await channel;
        } catch (error) {
          return failAll(describeError(error));
        }
        const outcomes = await this.publishOn(acquired, queue, messages);
        if (outcomes.some((outcome) => !outcome.ok && outcome.reason === "timeout")) reusable = false;
        return outcomes;
      },
      close: () => {
        channel?.then(
          (acquired) => live?.pool.release(acquired, reusable),
          () => undefined,
        );
      },
    };
  }

  private publishOn(
    publishChannel: PublishChannel,
    queue: string,
    messages: readonly OutgoingMessage[],
  ): Promise<PublishOutcome[]> {
    const confirm = publishChannel.channel;
    const outcomes: PublishOutcome[] = new Array<PublishOutcome>(messages.length);
    let remaining = messages.length;
    const { promise, resolve } = deferred<PublishOutcome[]>();
    const settle = (index: number, outcome: PublishOutcome) => {
      if (outcomes[index] !== undefined) return;
      outcomes[index] = outcome;
      if (--remaining === 0) {
        cancelDeadline();
        resolve(outcomes);
      }
    };
    const cancelDeadline = deadline(this.publishTimeoutMs, () => {
      for (let index = 0; index < messages.length; index++) {
        settle(index, { ok: false, reason: "timeout", detail: "RabbitMQ did not confirm in time" });
      }
    });

    const send = async () => {
      const now = Date.now();
      const timestamp = Math.floor(now / 1000);
      const publishedAt = new Date(now).toISOString();
      for (let index = 0; index < messages.length; index++) {
        // Timed out: what was not sent yet is reported as not confirmed, so it is not sent at all.
        if (remaining === 0) return;
        const message = messages[index]!;
        const untrack = publishChannel.track(queue, message.id);
        let flowing: boolean;
        try {
          flowing = confirm.sendToQueue(
            queue,
            message.body,
            {
              persistent: true,
              mandatory: true,
              messageId: message.id,
              contentType: message.contentType,
              headers: { ...message.headers, [PUBLISHED_AT_HEADER]: publishedAt },
              timestamp,
              appId: "queuescale-producer",
            },
            (error: unknown) => {
              const returned = untrack();
              if (error) {
                const nacked = error instanceof Error && error.message === "message nacked";
                settle(index, { ok: false, reason: nacked ? "nack" : "connection", detail: describeError(error) });
              } else if (returned) {
                settle(index, { ok: false, reason: "unroutable", detail: `queue ${queue} no longer exists` });
                this.existing.forget(queue);
              } else {
                settle(index, { ok: true, duplicate: false });
              }
            },
          );
        } catch (error) {
          // The channel closed under us: this and every later message were never sent.
          untrack();
          for (let rest = index; rest < messages.length; rest++) {
            settle(rest, { ok: false, reason: "connection", detail: describeError(error) });
          }
          return;
        }
        if (!flowing) await drainOrClose(confirm);
      }
    };
    void send();
    return promise;
  }

  async createQueue(name: string): Promise<{ created: boolean }> {
    if (await this.checkQueue(name)) return { created: false };
    try {
      await this.withChannel("a queue declare", (channel) => channel.assertQueue(name, { durable: true }));
    } catch (error) {
      if (replyCode(error) === PRECONDITION_FAILED) {
        throw new QueueOperationError("conflict", `queue ${name} exists with other settings`, { cause: error });
      }
      throw error;
    }
    this.existing.remember(name);
    return { created: true };
  }

  async purgeQueue(name: string): Promise<{ purged: number }> {
    if (!(await this.checkQueue(name))) throw new QueueOperationError("not_found", `queue ${name} not found`);
    const reply = await this.withChannel("a purge", (channel) => channel.purgeQueue(name));
    return { purged: reply.messageCount };
  }

  async deleteQueue(name: string): Promise<{ purged: number }> {
    if (!(await this.checkQueue(name))) throw new QueueOperationError("not_found", `queue ${name} not found`);
    this.existing.forget(name);
    const reply = await this.withChannel("a delete", (channel) => channel.deleteQueue(name));
    return { purged: reply.messageCount };
  }

  depthSources(logger: Logger) {
    if (!this.managementUrl) return { unavailable: "listing RabbitMQ queues needs RABBITMQ_MANAGEMENT_URL" };
    return vhostDepthSources({ url: this.url, managementUrl: this.managementUrl }, logger);
  }

  queueNameOf(reading: QueueReading): string | undefined {
    if (reading.broker !== "rabbitmq" || reading.labels.vhost !== this.vhost) return undefined;
    return reading.labels.queue;
  }

  async close(): Promise<void> {
    this.closing = true;
    // Requests under way were answered before close is called; their channels go with the connection.
    const model = await this.model.catch(() => undefined);
    // Bounded: closing a stalled connection waits for a close-ok that never comes.
    if (model)
      await withTimeout(model.close(), this.publishTimeoutMs, () => new Error("close timed out")).catch(
        () => undefined,
      );
    this.detach();
  }
}

/** Waits for the channel's write buffer to drain (or the channel to close, which fails the rest). */
function drainOrClose(channel: PublishChannel["channel"]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      channel.off("drain", done);
      channel.off("close", done);
      resolve();
    };
    channel.once("drain", done);
    channel.once("close", done);
  });
}
