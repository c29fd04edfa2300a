import { untilAborted, deferred } from "../../../util/promises.js";
import { NameFilter } from "../../../sources/filter.js";
import { describeError, redactUrl } from "../../../sources/errors.js";
import { natsConnectionOptions } from "../connection.js";
import { jetStreamDepthSources } from "../jetstream-source.js";
import { PUBLISHED_AT_HEADER } from "../worker/message.js";
import type { Logger } from "pino";
import type { QueueReading } from "../../../sources/types.js";
import {
  AckPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import {
  connect,
  headers as natsHeaders,
  NoRespondersError,
  TimeoutError,
  type NatsConnection,
} from "@nats-io/transport-node";
import { ExistenceCache } from "../../../publisher/existence-cache.js";
import {
  QueueOperationError,
  type BrokerClient,
  type OutgoingMessage,
  type PublishOutcome,
  type PublishFailureReason,
  type PublishSession,
} from "../../../publisher/types.js";

interface CurrentConnection {
  readonly connection: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

function apiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}

function isMissing(error: unknown): boolean {
  const code = apiCode(error);
  return code === JetStreamApiCodes.ConsumerNotFound || code === JetStreamApiCodes.StreamNotFound;
}

function failureReason(error: unknown): PublishFailureReason {
  if (error instanceof JetStreamApiError) return "nack";
  if (error instanceof NoRespondersError || (error as { cause?: unknown }).cause instanceof NoRespondersError) {
    return "unroutable";
  }
  if (error instanceof TimeoutError || (error as { cause?: unknown }).cause instanceof TimeoutError) return "timeout";
  return "connection";
}

/**
 * NATS JetStream: a queue NAME is the durable pull consumer NAME of stream STREAM, filtered on the
 * subject `STREAM.NAME`; publishing to queue NAME publishes to that subject and waits for the
 * stream's acknowledgement. Message ids go into Nats-Msg-Id, so a retried publish within the
 * stream's duplicate window is stored once. Streams the producer creates use work-queue retention:
 * a message is removed once a worker acknowledges it.
 */
export class NatsClient implements BrokerClient {
  readonly broker = "nats" as const;
  private readonly existing = new ExistenceCache();
  private live: CurrentConnection | undefined;
  private connected = false;
  private closing = false;
  private readonly firstConnect = deferred<void>();

  constructor(
    private readonly url: string,
    private readonly stream: string,
    private readonly publishTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.firstConnect.promise.catch(() => undefined);
    void this.start();
  }

  private async start(): Promise<void> {
    let connection: NatsConnection;
    try {
      connection = await connect({
        ...natsConnectionOptions(this.url),
        name: "queuescale-producer",
        // A producer that starts before the broker keeps trying (and is not ready meanwhile).
        waitOnFirstConnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 5_000,
        // A request otherwise captures two stack traces (a RequestError and a TimeoutError) when it
        // is made, for every message: most of an upload's allocation per row. Failures are
        // reported by reason and message, which stay the same.
        noAsyncTraces: true,
      });
      if (this.closing) {
        // Closed while the first connection was still being attempted.
        await connection.close();
        return;
      }
      const jsm = await jetstreamManager(connection);
      this.live = { connection, js: jetstream(connection, { timeout: this.publishTimeoutMs }), jsm };
    } catch (error) {
      this.logger.error({ error: describeError(error) }, "cannot use NATS JetStream");
      this.firstConnect.reject(error);
      return;
    }
    this.connected = true;
    this.firstConnect.resolve();
    this.logger.info({ url: redactUrl(this.url), stream: this.stream }, "connected to NATS");
    void this.watch(connection);
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === "disconnect") {
        this.connected = false;
        if (!this.closing) this.logger.warn("NATS connection lost; reconnecting");
      } else if (status.type === "reconnect") {
        this.connected = true;
        this.logger.info("NATS connection restored");
      }
    }
  }

  isConnected(): boolean {
    return this.connected && this.live !== undefined;
  }

  waitUntilConnected(signal?: AbortSignal): Promise<void> {
    return untilAborted(this.firstConnect.promise, signal);
  }

  invalidQueueName(name: string): string | undefined {
    // The name is both a consumer name and a subject token.
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(name))
      return "must be 1-200 letters, digits, _ or - (a JetStream consumer name)";
    return undefined;
  }

  private subjectOf(queue: string): string {
    return `${this.stream}.${queue}`;
  }

  private manager(): JetStreamManager {
    if (!this.live || !this.connected) throw new QueueOperationError("unavailable", "not connected to NATS");
    return this.live.jsm;
  }

  private async consumerExists(name: string): Promise<boolean> {
    try {
      await this.manager().consumers.info(this.stream, name);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      if (error instanceof QueueOperationError) throw error;
      throw new QueueOperationError("unavailable", `cannot check consumer: ${describeError(error)}`, { cause: error });
    }
  }

  async queueExists(name: string): Promise<boolean> {
    if (this.existing.has(name)) return true;
    const found = await this.consumerExists(name);
    if (found) this.existing.remember(name);
    return found;
  }

  /** JetStream keeps one connection's publishes in order, and refuses a message by itself. */
  openSession(queue: string): PublishSession {
    return { publish: (messages) => this.publish(queue, messages), close: () => undefined };
  }

  async publish(queue: string, messages: readonly OutgoingMessage[]): Promise<PublishOutcome[]> {
    const live = this.live;
    if (!live || !this.connected) {
      return messages.map(() => ({ ok: false, reason: "connection", detail: "not connected to NATS" }) as const);
    }
    const subject = this.subjectOf(queue);
    const publishedAt = new Date().toISOString();
    // Every publish of the batch is in flight at once; the server acknowledges them in order.
    return Promise.all(
      messages.map(async (message): Promise<PublishOutcome> => {
        const headers = natsHeaders();
        for (const [name, value] of Object.entries(message.headers)) headers.set(name, value);
        headers.set(PUBLISHED_AT_HEADER, publishedAt);
        if (message.contentType) headers.set("Content-Type", message.contentType);
        try {
          const ack = await live.js.publish(subject, message.body, {
            msgID: message.id,
            headers,
            timeout: this.publishTimeoutMs,
            expect: { streamName: this.stream },
          });
          return { ok: true, duplicate: ack.duplicate };
        } catch (error) {
          const reason = failureReason(error);
          if (reason === "unroutable") this.existing.forget(queue);
          return { ok: false, reason, detail: describeError(error) };
        }
      }),
    );
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    try {
      await jsm.streams.info(this.stream);
      return;
    } catch (error) {
      if (apiCode(error) !== JetStreamApiCodes.StreamNotFound) throw error;
    }
    await jsm.streams.add({
      name: this.stream,
      subjects: [`${this.stream}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    this.logger.info({ stream: this.stream }, "created JetStream stream");
  }

  async createQueue(name: string): Promise<{ created: boolean }> {
    const jsm = this.manager();
    if (await this.consumerExists(name)) return { created: false };
    try {
      await this.ensureStream(jsm);
      await jsm.consumers.add(this.stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        filter_subject: this.subjectOf(name),
      });
    } catch (error) {
      if (error instanceof JetStreamApiError) {
        throw new QueueOperationError("conflict", `cannot create consumer ${name}: ${error.message}`, { cause: error });
      }
      throw new QueueOperationError("unavailable", `cannot create consumer ${name}: ${describeError(error)}`, {
        cause: error,
      });
    }
    this.existing.remember(name);
    return { created: true };
  }

  async purgeQueue(name: string): Promise<{ purged: number }> {
    if (!(await this.consumerExists(name))) throw new QueueOperationError("not_found", `queue ${name} not found`);
    const reply = await this.manager().streams.purge(this.stream, { filter: this.subjectOf(name) });
    return { purged: reply.purged };
  }

  async deleteQueue(name: string): Promise<{ purged: number }> {
    if (!(await this.consumerExists(name))) throw new QueueOperationError("not_found", `queue ${name} not found`);
    this.existing.forget(name);
    const jsm = this.manager();
    await jsm.consumers.delete(this.stream, name);
    // The messages belong to the queue: a work-queue stream would keep them with no consumer left.
    const reply = await jsm.streams.purge(this.stream, { filter: this.subjectOf(name) });
    return { purged: reply.purged };
  }

  depthSources(logger: Logger) {
    return jetStreamDepthSources(this.url, NameFilter.all(), logger);
  }

  queueNameOf(reading: QueueReading): string | undefined {
    if (reading.broker !== "nats" || reading.labels.stream !== this.stream) return undefined;
    return reading.labels.consumer;
  }

  async close(): Promise<void> {
    this.closing = true;
    // Not connected yet: the attempt in progress sees `closing` and closes what it opens.
    const connection = this.live?.connection;
    if (!connection) return;
    // Drain flushes what is buffered and waits for outstanding replies before closing.
    await connection.drain().catch(() => undefined);
  }
}
