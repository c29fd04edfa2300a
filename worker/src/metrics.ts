import { Counter, Gauge, Histogram } from "prom-client";
import type { AnyRegistry } from "@queuescale/core";

export const OUTCOMES = ["ack", "retry", "dead_letter"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The worker's own families, next to the contract's depth families on the same /metrics. */
export const WORKER_METRICS = {
  messages: {
    name: "queuescale_worker_messages_total",
    help: "Messages settled by this worker, by outcome: ack (handled), retry (handler failed, scheduled again), dead_letter.",
  },
  processing: {
    name: "queuescale_worker_processing_seconds",
    help: "Time the handler took per message, successful or not.",
  },
  inFlight: {
    name: "queuescale_worker_in_flight",
    help: "Messages handed to the handler and not yet settled.",
  },
  oldestInFlight: {
    name: "queuescale_worker_oldest_in_flight_seconds",
    help: "How long the message longest in the handler has been there; 0 when none is. A value that keeps growing is a stalled handler.",
  },
  connected: {
    name: "queuescale_worker_connected",
    help: "1 while the worker holds a live connection to its broker and consumes, else 0.",
  },
} as const;

export class WorkerMetrics {
  private readonly byOutcome: Record<Outcome, Counter.Internal>;
  readonly processingSeconds: Histogram;
  private inFlightCount: () => number = () => 0;
  private oldestInFlight: () => number = () => 0;
  private readonly connectedGauge: Gauge;

  constructor(registry: AnyRegistry) {
    const registers = [registry];
    const { messages, processing, inFlight, oldestInFlight, connected } = WORKER_METRICS;
    const counter = new Counter({ name: messages.name, help: messages.help, labelNames: ["outcome"], registers });
    // Children are resolved once: a label look-up per message would show in the throughput.
    this.byOutcome = {
      ack: counter.labels({ outcome: "ack" }),
      retry: counter.labels({ outcome: "retry" }),
      dead_letter: counter.labels({ outcome: "dead_letter" }),
    };
    for (const outcome of OUTCOMES) this.byOutcome[outcome].inc(0);
    this.processingSeconds = new Histogram({
      name: processing.name,
      help: processing.help,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
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
  }

  /** Where the in-flight gauge reads its value. */
  countInFlightWith(count: () => number): void {
    this.inFlightCount = count;
  }

  /** Where the oldest-in-flight gauge reads its value, in seconds. */
  oldestInFlightWith(seconds: () => number): void {
    this.oldestInFlight = seconds;
  }

  settled(outcome: Outcome): void {
    this.byOutcome[outcome].inc();
  }

  setConnected(connected: boolean): void {
    this.connectedGauge.set(connected ? 1 : 0);
  }
}
