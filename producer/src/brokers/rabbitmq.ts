import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type Message,
  type RecoveringChannelModel,
} from "amqplib";
import { z } from "zod";
import {
  ConfigError,
  NameFilter,
  describeError,
  rabbitmqModule,
  redactUrl,
  type Logger,
  type QueueReading,
} from "@queuescale/core";
import { deferred, untilAborted } from "../deferred.js";
import type { ProducerSettings } from "../settings.js";
import { ExistenceCache, deadline } from "./existence-cache.js";
import {
  QueueOperationError,
  type BrokerClient,
  type OutgoingMessage,
  type ProducerBrokerModule,
  type PublishOutcome,
} from "./types.js";

/** AMQP reply codes the admin operations map to HTTP statuses. */
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;

interface Live {
  readonly connection: ChannelModel;
  readonly confirm: ConfirmChannel;
  /** Publishes awaiting their confirm, by routing key and message id, oldest first. */
  readonly pendingReturns: Map<string, { returned: boolean }[]>;
}

function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

function returnKey(queue: string, messageId: string | undefined): string {
  return `${queue}\u0000${messageId ?? ""}`;
}

/**
 * RabbitMQ: a queue is a durable queue in the vhost of RABBITMQ_URL. Messages go through the
 * default exchange (routing key = queue name) on a confirm channel, persistent and mandatory, so a
 * queue deleted between the existence check and the publish comes back as a return instead of
 * being dropped silently.
 */
class RabbitClient implements BrokerClient {
  readonly broker = "rabbitmq" as const;
  private readonly vhost: string;
  private readonly existing = new ExistenceCache();
  private live: Live | undefined;
  private readonly model: Promise<RecoveringChannelModel>;
  private readonly firstConnect = deferred<void>();
  private closing = false;

  constructor(
    private readonly url: string,
    private readonly managementUrl: string | undefined,
    private readonly publishTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.vhost = decodeURIComponent(new URL(url).pathname.slice(1)) || "/";
    this.firstConnect.promise.catch(() => undefined);
    // The library reconnects with backoff; channels do not survive a reconnect, so each new
    // connection gets its confirm channel in `setup` before it counts as connected.
    this.model = amqp.connect(url, {
      clientProperties: { connection_name: "queuescale-producer" },
      recovery: {
        waitForConnect: false,
        initialDelay: 100,
        maxDelay: 5_000,
        setup: (connection: ChannelModel) => this.attach(connection),
      },
    });
    this.model.then(
      (model) => {
        model.on("disconnect", (error: Error) => {
          this.live = undefined;
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

  private async attach(connection: ChannelModel): Promise<void> {
    const confirm = await connection.createConfirmChannel();
    const live: Live = { connection, confirm, pendingReturns: new Map() };
    confirm.on("error", (error: Error) => {
      this.logger.warn({ error: describeError(error) }, "RabbitMQ publish channel error");
    });
    confirm.on("return", (message: Message) => {
      const waiting = live.pendingReturns.get(returnKey(message.fields.routingKey, message.properties.messageId));
      const first = waiting?.find((entry) => !entry.returned);
      if (first) first.returned = true;
    });
    confirm.on("close", () => {
      if (this.live !== live) return;
      this.live = undefined;
      // A channel closed by the broker on a live connection is replaced; a closed connection is
      // handled by the library's reconnect, which calls attach again.
      if (!this.closing) {
        this.attach(connection).catch((error: unknown) => {
          this.logger.warn({ error: describeError(error) }, "cannot reopen the RabbitMQ publish channel");
        });
      }
    });
    this.live = live;
    this.firstConnect.resolve();
    this.logger.info({ url: redactUrl(this.url) }, "connected to RabbitMQ");
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

  /** Runs `operation` on a short-lived channel: a failed passive declare closes its channel. */
  private async withChannel<T>(operation: (channel: Channel) => Promise<T>): Promise<T> {
    const connection = this.live?.connection;
    if (!connection) throw new QueueOperationError("unavailable", "not connected to RabbitMQ");
    let channel: Channel;
    try {
      channel = await connection.createChannel();
    } catch (error) {
      throw new QueueOperationError("unavailable", `cannot open a RabbitMQ channel: ${describeError(error)}`, {
        cause: error,
      });
    }
    let closed = false;
    channel.on("error", () => undefined);
    channel.on("close", () => {
      closed = true;
    });
    try {
      return await operation(channel);
    } finally {
      if (!closed) await channel.close().catch(() => undefined);
    }
  }

  private async checkQueue(name: string): Promise<{ messageCount: number } | undefined> {
    try {
      return await this.withChannel((channel) => channel.checkQueue(name));
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

  publish(queue: string, messages: readonly OutgoingMessage[]): Promise<PublishOutcome[]> {
    const live = this.live;
    if (!live) {
      return Promise.resolve(
        messages.map(() => ({ ok: false, reason: "connection", detail: "not connected to RabbitMQ" }) as const),
      );
    }
    const { confirm, pendingReturns } = live;
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
    if (messages.length === 0) resolve([]);

    const send = async () => {
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index]!;
        const key = returnKey(queue, message.id);
        const tracker = { returned: false };
        const waiting = pendingReturns.get(key);
        if (waiting) waiting.push(tracker);
        else pendingReturns.set(key, [tracker]);
        const untrack = () => {
          const list = pendingReturns.get(key);
          if (!list) return;
          list.splice(list.indexOf(tracker), 1);
          if (list.length === 0) pendingReturns.delete(key);
        };
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
              headers: message.headers,
              timestamp: Math.floor(Date.now() / 1000),
              appId: "queuescale-producer",
            },
            (error: unknown) => {
              untrack();
              if (error) {
                const nacked = error instanceof Error && error.message === "message nacked";
                settle(index, { ok: false, reason: nacked ? "nack" : "connection", detail: describeError(error) });
              } else if (tracker.returned) {
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
      await this.withChannel((channel) => channel.assertQueue(name, { durable: true }));
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
    const reply = await this.withChannel((channel) => channel.purgeQueue(name));
    return { purged: reply.messageCount };
  }

  async deleteQueue(name: string): Promise<{ purged: number }> {
    if (!(await this.checkQueue(name))) throw new QueueOperationError("not_found", `queue ${name} not found`);
    this.existing.forget(name);
    const reply = await this.withChannel((channel) => channel.deleteQueue(name));
    return { purged: reply.messageCount };
  }

  depthSources(logger: Logger) {
    if (!this.managementUrl) return { unavailable: "listing RabbitMQ queues needs RABBITMQ_MANAGEMENT_URL" };
    const settings = z.object(rabbitmqModule.settings).parse({
      RABBITMQ_URL: this.url,
      RABBITMQ_MANAGEMENT_URL: this.managementUrl,
      RABBITMQ_SOURCE: "management",
      RABBITMQ_VHOSTS: this.vhost,
    });
    return rabbitmqModule.createSources(settings, { filter: NameFilter.all(), logger });
  }

  queueNameOf(reading: QueueReading): string | undefined {
    if (reading.broker !== "rabbitmq" || reading.labels.vhost !== this.vhost) return undefined;
    return reading.labels.queue;
  }

  async close(): Promise<void> {
    this.closing = true;
    const live = this.live;
    if (live) await live.confirm.waitForConfirms().catch(() => undefined);
    const model = await this.model.catch(() => undefined);
    await model?.close().catch(() => undefined);
    this.live = undefined;
  }
}

/** Waits for the channel's write buffer to drain (or the channel to close, which fails the rest). */
function drainOrClose(channel: ConfirmChannel): Promise<void> {
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

export const rabbitmqProducer: ProducerBrokerModule = {
  broker: "rabbitmq",
  connect(settings: ProducerSettings, logger: Logger): BrokerClient {
    if (!settings.RABBITMQ_URL) throw new ConfigError("RABBITMQ_URL", "must be set when BROKER is rabbitmq");
    return new RabbitClient(
      settings.RABBITMQ_URL,
      settings.RABBITMQ_MANAGEMENT_URL,
      settings.PUBLISH_TIMEOUT_SECONDS * 1000,
      logger,
    );
  },
};
