import type { z } from "zod";
import type { Logger } from "pino";
import type { DepthSource } from "../sources/types.js";
import type { WorkerMessage } from "./message.js";

/**
 * One received message and the ways to settle it. Each settle call resolves true when the broker
 * took it, false when the connection the message came on is gone: the message is then left to the
 * broker to redeliver, never settled on another connection.
 */
export interface Delivery {
  readonly message: WorkerMessage;
  /** Done: remove the message. */
  ack(): Promise<boolean>;
  /** Failed for now: deliver it again after `delayMs`, as attempt + 1. */
  retry(delayMs: number, reason: string): Promise<boolean>;
  /** Failed for good: move it to the dead letters with `reason`, then remove it. */
  deadLetter(reason: string): Promise<boolean>;
  /** Not processed: give it back for immediate redelivery (or leave it to the broker). */
  release(): void;
}

/** What the runtime tells a consumer about itself. */
export interface ConsumerHooks {
  logger: Logger;
  /** Called on each connect and disconnect. */
  onConnectionChange(connected: boolean): void;
  /**
   * The consumer moved a message to the dead letters on its own, not as a handler's outcome: the
   * broker had stopped delivering it (JetStream's max_deliver reached after crashes).
   */
  onDeadLettered?(): void;
}

/** Settings every broker's consumer gets, besides its own. */
export interface ConsumerOptions {
  concurrency: number;
  maxAttempts: number;
  declare: boolean;
  /** RETRY_MAX_DELAY_SECONDS in ms: the longest a retry waits (RabbitMQ caps its retry queue's TTL at it). */
  retryMaxDelayMs: number;
}

/** Consumes one queue or durable consumer; one implementation per broker. */
export interface BrokerConsumer {
  /** `queue` for logs, e.g. `orders` or `ORDERS/worker`. */
  readonly description: string;
  /**
   * Connects (retrying while the broker does not answer), declares or checks the topology and starts
   * handing messages to `onDelivery`, at most `concurrency` unsettled at a time. Rejects when the
   * topology is missing or wrong, which retrying cannot fix.
   */
  start(onDelivery: (delivery: Delivery) => void): Promise<void>;
  /** Stops taking new messages; those already delivered can still be settled. */
  stopConsuming(): Promise<void>;
  /** Closes the connection; the broker takes back whatever is unsettled. */
  close(): Promise<void>;
}

/**
 * The worker capability of one broker adapter: the worker's settings for it (the adapter's
 * addresses plus what a consumer needs), its consumer and its own depth sources.
 */
export interface WorkerBrokerModule<Shape extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  readonly settings: Shape;
  /** Throws ConfigError for a missing or inconsistent setting of this broker. */
  createConsumer(settings: z.infer<z.ZodObject<Shape>>, options: ConsumerOptions, hooks: ConsumerHooks): BrokerConsumer;
  /** Depth sources (from core) that cover the worker's own queue or consumer. */
  createDepthSources(settings: z.infer<z.ZodObject<Shape>>, logger: Logger): DepthSource[];
  /** The identity labels (without `broker`) of the worker's queue or consumer. */
  identity(settings: z.infer<z.ZodObject<Shape>>): Record<string, string>;
}

/** The queue, stream or consumer is missing or wrong; retrying cannot fix it. */
export class TopologyError extends Error {
  override name = "TopologyError";
}
