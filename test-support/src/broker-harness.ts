import type { BrokerName } from "@queuescale/core";

/**
 * What the worker's and the producer's tests need of one real broker, each broker's in its folder
 * (`<name>/harness.ts`) and all listed in `brokers.ts`. A harness talks to the broker with the
 * broker's own client, never through queuescale, so what a test reads back does not trust the code
 * under test. Everything a target creates is removed by its cleanup().
 */
export interface BrokerHarness extends OnBroker {
  /** A fresh queue (or stream and durable consumer) for the worker, existing before the worker does. */
  workerTarget(): Promise<WorkerTarget>;
  /** Fresh queues for the producer to publish to, read back with the broker's client. */
  producerTarget(): Promise<ProducerTarget>;
}

/** The broker a harness or target is on. */
export interface OnBroker {
  readonly broker: BrokerName;
  /** The port the programs are pointed at; a TcpProxy in front of it simulates outages. */
  readonly brokerPort: number;
}

/** A message a test publishes for the worker. */
export interface TestMessage {
  id: string;
  body: Buffer;
}

/** A message the worker gave up on, with the reason and attempts it wrote. */
export interface DeadLetter {
  id: string;
  reason: string;
  attempts: number;
  body: Buffer;
}

/** One queue (RabbitMQ) or stream and durable consumer (JetStream) a worker test owns. */
export interface WorkerTarget extends OnBroker {
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

/** A message as a test reads it back from the broker. */
export interface StoredMessage {
  readonly id: string | undefined;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  readonly persistent: boolean;
}

/** Queues a producer test publishes to. */
export interface ProducerTarget extends OnBroker {
  /** The port queue listings are read from (the management API for RabbitMQ). */
  readonly listingPort: number;
  /**
   * Producer settings that reach the broker through `port` and read listings through `listingPort`
   * (default: the broker itself).
   */
  settings(port?: number, listingPort?: number): Record<string, string>;
  /** A fresh queue that exists on the broker (named `name` when given; removed by cleanup()). */
  createQueue(name?: string): Promise<string>;
  /**
   * A queue the broker refuses to hold more than `max` messages in, so publishes past it are
   * nacked, with the settings a producer needs to publish to it.
   */
  createFullQueue(max: number): Promise<{ queue: string; settings: Record<string, string> }>;
  /** A name no queue has. */
  missingQueue(): string;
  exists(queue: string): Promise<boolean>;
  count(queue: string): Promise<number>;
  /** Removes every message of the queue, keeping the queue. */
  purge(queue: string): Promise<void>;
  /** Takes (and acknowledges) every message of the queue, oldest first; `expected` bounds the wait. */
  drain(queue: string, expected: number): Promise<StoredMessage[]>;
  cleanup(): Promise<void>;
}
