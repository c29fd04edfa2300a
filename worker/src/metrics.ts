import { Counter, Gauge, Histogram } from "prom-client";
import { WORKER_METRICS, WORKER_OUTCOMES, type AnyRegistry, type WorkerOutcome } from "@queuescale/core";

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

export class WorkerMetrics {
  private readonly byOutcome: Record<Outcome, Counter.Internal>;
  private readonly processing: Histogram.Internal<string>;
  private readonly wait: Histogram.Internal<string>;
  private inFlightCount: () => number = () => 0;
  private oldestInFlight: () => number = () => 0;
  private readonly connectedGauge: Gauge.Internal<string>;

  constructor(registry: AnyRegistry, options: WorkerMetricsOptions) {
    const registers = [registry];
    const queue = { ...options.queue };
    const labelNames = Object.keys(queue);
    const { messages, processing, messageWait, inFlight, oldestInFlight, connected, concurrency, drainTarget } =
      WORKER_METRICS;
    const counter = new Counter({
      name: messages.name,
      help: messages.help,
      labelNames: [...labelNames, "outcome"],
      registers,
    });
    // Children are resolved once: a label look-up per message would show in the throughput.
    this.byOutcome = {
      ack: counter.labels({ ...queue, outcome: "ack" }),
      retry: counter.labels({ ...queue, outcome: "retry" }),
      dead_letter: counter.labels({ ...queue, outcome: "dead_letter" }),
    };
    for (const outcome of OUTCOMES) this.byOutcome[outcome].inc(0);
    this.processing = new Histogram({
      name: processing.name,
      help: processing.help,
      labelNames,
      buckets: PROCESSING_BUCKETS,
      registers,
    }).labels(queue);
    this.wait = new Histogram({
      name: messageWait.name,
      help: messageWait.help,
      labelNames,
      buckets: WAIT_BUCKETS,
      registers,
    }).labels(queue);
    // Read at scrape time rather than set twice per message.
    const readInFlight = () => this.inFlightCount();
    new Gauge({
      name: inFlight.name,
      help: inFlight.help,
      labelNames,
      registers,
      collect() {
        this.set(queue, readInFlight());
      },
    });
    const readOldest = () => this.oldestInFlight();
    new Gauge({
      name: oldestInFlight.name,
      help: oldestInFlight.help,
      labelNames,
      registers,
      collect() {
        this.set(queue, readOldest());
      },
    });
    this.connectedGauge = new Gauge({ name: connected.name, help: connected.help, labelNames, registers }).labels(
      queue,
    );
    this.connectedGauge.set(0);
    new Gauge({ name: concurrency.name, help: concurrency.help, labelNames, registers }).set(
      queue,
      options.concurrency,
    );
    // Without a target the family has no series: recording rules then leave the queue's
    // required replicas absent instead of inventing a target.
    const target = new Gauge({ name: drainTarget.name, help: drainTarget.help, labelNames, registers });
    if (options.drainTargetSeconds !== undefined) target.set(queue, options.drainTargetSeconds);
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
    this.byOutcome[outcome].inc();
  }

  setConnected(connected: boolean): void {
    this.connectedGauge.set(connected ? 1 : 0);
  }
}
