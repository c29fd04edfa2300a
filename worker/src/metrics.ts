import { Counter, Gauge } from "prom-client";
import {
  WORKER_METRICS,
  WORKER_OUTCOMES,
  createRegistry,
  type AnyRegistry,
  type WorkerOutcome,
} from "@queuescale/core";
import { CountingHistogram } from "./counting-histogram.js";

export const OUTCOMES = WORKER_OUTCOMES;
export type Outcome = WorkerOutcome;

/** The worker's own families (core's contract), next to the contract's depth families on the same /metrics. */
export { WORKER_METRICS };

/** What the worker's families say about the worker itself, besides what it counts. */
export interface WorkerMetricsOptions {
  /**
   * `broker` plus the identity labels of the consumed queue (the adapter's), e.g.
   * `{ broker: "rabbitmq", vhost: "/", queue: "jobs" }`: every family carries them.
   */
  queue: Readonly<Record<string, string>>;
  /** CONCURRENCY. */
  concurrency: number;
  /** DRAIN_TARGET_SECONDS; undefined leaves its gauge without a series. */
  drainTargetSeconds?: number | undefined;
}

/** Handler time: 1 ms to a minute. */
const PROCESSING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Wait before the handler starts: 5 ms to an hour, since a drain-time target is seconds to minutes. */
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The worker's own families, in a registry of their own whose default labels are the queue's:
 * every series describes that one queue, and nothing done per message handles labels (prom-client
 * checks and hashes a labelled child's labels on each observe or inc, 0.2 to 0.4 µs a time, three
 * times per message, which a no-op handler's throughput shows). The per-message histograms count
 * in a CountingHistogram for the same reason. The worker serves this registry next to its
 * collector's.
 */
export class WorkerMetrics {
  readonly registry: AnyRegistry = createRegistry();
  /** Settlements not yet added to the counter: added when it is read (scraped). */
  private readonly unread: Record<Outcome, number> = { ack: 0, retry: 0, dead_letter: 0 };
  private readonly processing: CountingHistogram;
  private readonly wait: CountingHistogram;
  private inFlightCount: () => number = () => 0;
  private oldestInFlight: () => number = () => 0;
  private readonly connectedGauge: Gauge;

  constructor(options: WorkerMetricsOptions) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ ...options.queue });
    const { messages, processing, messageWait, inFlight, oldestInFlight, connected, concurrency, drainTarget } =
      WORKER_METRICS;
    const unread = this.unread;
    new Counter({
      name: messages.name,
      help: messages.help,
      labelNames: ["outcome"],
      registers,
      // Counted per message in a plain field, added here: a scrape reads every settlement made before it.
      collect() {
        for (const outcome of OUTCOMES) {
          this.inc({ outcome }, unread[outcome]);
          unread[outcome] = 0;
        }
      },
    });
    this.processing = new CountingHistogram(processing.name, processing.help, PROCESSING_BUCKETS, this.registry);
    this.wait = new CountingHistogram(messageWait.name, messageWait.help, WAIT_BUCKETS, this.registry);
    // Read at scrape time rather than set twice per message.
    const readInFlight = () => this.inFlightCount();
    new Gauge({
      name: inFlight.name,
      help: inFlight.help,
      registers,
      collect() {
        this.set(readInFlight());
      },
    });
    const readOldest = () => this.oldestInFlight();
    new Gauge({
      name: oldestInFlight.name,
      help: oldestInFlight.help,
      registers,
      collect() {
        this.set(readOldest());
      },
    });
    this.connectedGauge = new Gauge({ name: connected.name, help: connected.help, registers });
    this.connectedGauge.set(0);
    new Gauge({ name: concurrency.name, help: concurrency.help, registers }).set(options.concurrency);
    // Without a target the family has no series: recording rules then leave the queue's
    // required replicas absent instead of inventing a target. (An unlabelled gauge would show 0.)
    if (options.drainTargetSeconds !== undefined) {
      new Gauge({ name: drainTarget.name, help: drainTarget.help, registers }).set(options.drainTargetSeconds);
    }
  }

  /** Where the in-flight gauge reads its value. */
  countInFlightWith(count: () => number): void {
    this.inFlightCount = count;
  }

  /** Where the oldest-in-flight gauge reads its value, in seconds. */
  oldestInFlightWith(seconds: () => number): void {
    this.oldestInFlight = seconds;
  }

  /** One handler run took `seconds`, whatever its outcome. */
  handled(seconds: number): void {
    this.processing.observe(seconds);
  }

  /** A message waited `seconds` between its publish and its handler's start. */
  waited(seconds: number): void {
    // Clocks of publisher and worker differ a little: a start "before" the publish waited 0.
    this.wait.observe(Math.max(0, seconds));
  }

  settled(outcome: Outcome): void {
    this.unread[outcome]++;
  }

  setConnected(connected: boolean): void {
    this.connectedGauge.set(connected ? 1 : 0);
  }
}
