import type { Logger } from "pino";
import type { z } from "zod";
import type { DepthSource, QueueReading } from "../sources/types.js";

/** One message ready to go to a broker: validated, encoded, with its final id. */
export interface OutgoingMessage {
  readonly id: string;
  readonly body: Buffer;
  readonly contentType?: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Why the broker did not take a message. */
export type PublishFailureReason = "nack" | "unroutable" | "timeout" | "connection";

export type PublishOutcome =
  | { readonly ok: true; readonly duplicate: boolean }
  | { readonly ok: false; readonly reason: PublishFailureReason; readonly detail: string };

/** Thrown by admin operations and checks; the HTTP layer maps `kind` to a status. */
export class QueueOperationError extends Error {
  constructor(
    readonly kind: "not_found" | "conflict" | "unavailable" | "unsupported",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "QueueOperationError";
  }
}

/**
 * Batches published in order on one broker channel, for the many batches of one request (an
 * upload): they stay in file order in the queue, and what the broker refuses fails only this
 * session. `close` hands the channel back.
 */
export interface PublishSession {
  publish(messages: readonly OutgoingMessage[]): Promise<PublishOutcome[]>;
  close(): void;
}

/**
 * The producer's view of one broker: publishing with confirms and managing queues. A queue is a
 * RabbitMQ queue in the vhost of the URL, or a JetStream durable consumer of STREAM (see the broker
 * files for what a name maps to). Nothing outside the broker files knows which broker it is.
 */
export interface BrokerClient {
  /** The adapter's name: the `broker` label of the producer's metrics. */
  readonly broker: string;
  /** True while the broker connection is up (and the client can publish). */
  isConnected(): boolean;
  /** Resolves once connected for the first time; rejects if `signal` aborts first. */
  waitUntilConnected(signal?: AbortSignal): Promise<void>;
  /** Why `name` cannot be a queue name on this broker, or undefined when it can. */
  invalidQueueName(name: string): string | undefined;
  /** Whether the queue exists. May answer from a short cache; rejects when the broker cannot tell. */
  queueExists(name: string): Promise<boolean>;
  /**
   * Publishes persistent messages and resolves, once the broker has confirmed or refused each one,
   * with one outcome per message in order. Never rejects for a broker failure: it reports it.
   */
  publish(queue: string, messages: readonly OutgoingMessage[]): Promise<PublishOutcome[]>;
  /** A session of ordered publishes to `queue` (see PublishSession); `publish` is a session of one batch. */
  openSession(queue: string): PublishSession;
  /** Creates a durable queue; `created` is false when it already existed. */
  createQueue(name: string): Promise<{ created: boolean }>;
  /** Drops every ready message of the queue. */
  purgeQueue(name: string): Promise<{ purged: number }>;
  /** Removes the queue and the messages in it. */
  deleteQueue(name: string): Promise<{ purged: number }>;
  /** The core depth sources that read this broker's queues, or a reason the settings cannot list them. */
  depthSources(logger: Logger): DepthSource[] | { unavailable: string };
  /** The queue name a reading stands for, or undefined when it is outside this producer's scope. */
  queueNameOf(reading: QueueReading): string | undefined;
  /** Waits for outstanding confirms, then closes the connection. */
  close(): Promise<void>;
}

/** Settings every broker's publisher gets, besides its own. */
export interface PublisherOptions {
  /** PUBLISH_TIMEOUT_SECONDS in ms: the longest wait for a confirm or any other broker operation. */
  publishTimeoutMs: number;
}

/**
 * The producer capability of one broker adapter: the producer's settings for it (the adapter's
 * addresses plus what publishing needs) and how to connect.
 */
export interface ProducerBrokerModule<Shape extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  readonly settings: Shape;
  /** Checks the settings this broker needs (ConfigError naming the setting) and starts connecting. */
  connect(settings: z.infer<z.ZodObject<Shape>>, options: PublisherOptions, logger: Logger): BrokerClient;
}
