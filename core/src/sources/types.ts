import type { PollErrorReason } from "../contract.js";

/** One queue's numbers at one poll (a RabbitMQ queue, a JetStream durable consumer). */
export interface QueueReading {
  /** The adapter's name: the `broker` label. */
  readonly broker: string;
  /** Identity labels without `broker`: `{vhost, queue}` or `{stream, consumer}`. */
  readonly labels: Readonly<Record<string, string>>;
  /** Ready + unacknowledged. Always present: it is what the HPA scales on. */
  readonly depth: number;
  readonly ready?: number;
  readonly unacked?: number;
  readonly consumers?: number;
  readonly redelivered?: number;
  readonly oldestMessageAgeSeconds?: number;
}

/** Everything one successful poll of a source saw. */
export interface Snapshot {
  readonly readings: readonly QueueReading[];
  /** Unix milliseconds when the poll finished. */
  readonly takenAtMs: number;
}

/**
 * A way to read queue depths from a broker. Implementations live in the broker's folder
 * (core/src/brokers/<name>); the collector, the poller and the exporter see only this interface.
 */
export interface DepthSource {
  /** The adapter's name: the `broker` label. */
  readonly broker: string;
  /** Stable name for the `source` label, e.g. `management` or `prometheus@rabbit-0:15692`. */
  readonly name: string;
  /**
   * Reads every queue/consumer the source covers. Rejects (preferably with a SourceError) when the
   * broker cannot be read: a partial or guessed answer would publish a false depth.
   */
  poll(signal: AbortSignal): Promise<Snapshot>;
  /** Releases connections. The source is not polled again afterwards. */
  close(): Promise<void>;
}

/** A poll failure with the reason that goes into queuescale_source_poll_errors_total. */
export class SourceError extends Error {
  constructor(
    readonly reason: PollErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SourceError";
  }
}
