import { Counter, Gauge, Histogram } from "prom-client";
import type { AnyRegistry } from "./exposition.js";
import { POLL_ERROR_REASONS, SOURCE_METRICS, type PollErrorReason } from "../contract.js";
import type { DepthSource } from "../sources/types.js";

/** The source-health families of the contract, registered on a live registry. */
export class SourceHealthMetrics {
  private readonly up: Gauge;
  private readonly duration: Histogram;
  private readonly errors: Counter;
  private readonly lastSuccess: Gauge;

  constructor(registry: AnyRegistry) {
    const registers = [registry];
    const { up, pollDuration, pollErrors, lastSuccess } = SOURCE_METRICS;
    this.up = new Gauge({ name: up.name, help: up.help, labelNames: [...up.labels], registers });
    this.duration = new Histogram({
      name: pollDuration.name,
      help: pollDuration.help,
      labelNames: [...pollDuration.labels],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.errors = new Counter({
      name: pollErrors.name,
      help: pollErrors.help,
      labelNames: [...pollErrors.labels],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: lastSuccess.name,
      help: lastSuccess.help,
      labelNames: [...lastSuccess.labels],
      registers,
    });
  }

  /** A source starts down with zeroed error counters, so rate() works from its first failure. */
  register(source: DepthSource): void {
    const labels = { broker: source.broker, source: source.name };
    this.up.set(labels, 0);
    for (const reason of POLL_ERROR_REASONS) this.errors.inc({ ...labels, reason }, 0);
  }

  recordSuccess(source: DepthSource, seconds: number, finishedAtMs: number): void {
    const labels = { broker: source.broker, source: source.name };
    this.up.set(labels, 1);
    this.duration.observe(labels, seconds);
    this.lastSuccess.set(labels, finishedAtMs / 1000);
  }

  recordFailure(source: DepthSource, seconds: number, reason: PollErrorReason): void {
    const labels = { broker: source.broker, source: source.name };
    this.up.set(labels, 0);
    this.duration.observe(labels, seconds);
    this.errors.inc({ ...labels, reason });
  }
}
