import type { Logger } from "@queuescale/core";
import { HpaController, type ControllerFlags, type HpaSpec, type MetricSample } from "../engine/index.js";
import type { ExternalMetricReader } from "./metric-reader.js";
import type { LabelSelector } from "./selector.js";
import type { WorkerPool } from "./worker-pool.js";

/** An External metric of the HPA: what to read for it. */
export interface ExternalMetricQuery {
  name: string;
  selector: LabelSelector | undefined;
}

/** One point of the live chart. */
export interface Sample {
  t: number;
  /** The External metric total; null while it is unavailable. */
  value: number | null;
  replicas: number;
  ready: number;
}

/** One controller sync. */
export interface DecisionRecord {
  t: number;
  value: number | null;
  currentReplicas: number;
  desiredReplicas: number;
  reason: string;
}

export interface LocalAutoscalerOptions {
  spec: HpaSpec;
  /** One entry per spec.metrics item, in order. */
  queries: ExternalMetricQuery[];
  reader: ExternalMetricReader;
  pool: WorkerPool;
  flags: ControllerFlags;
  syncPeriodMs: number;
  /** How often the chart samples depth and replicas (and the pool is reconciled). */
  sampleIntervalMs?: number;
  logger: Logger;
  /** Kept in memory for the status page. */
  keepSamples?: number;
  keepDecisions?: number;
  onDecision?: (decision: DecisionRecord) => void;
}

/**
 * The HPA controller loop on one machine: every sync period it reads the External metric the way
 * the adapter serves it, runs the Kubernetes algorithm (engine/), and sets the replica count of a
 * pool of real worker processes, which a ReplicaSet-like loop keeps at that count.
 */
export class LocalAutoscaler {
  readonly samples: Sample[] = [];
  readonly decisions: DecisionRecord[] = [];
  private readonly controller: HpaController;
  private desired: number;
  private syncTimer: NodeJS.Timeout | undefined;
  private sampleTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;
  readonly startedAt = Date.now();

  constructor(private readonly options: LocalAutoscalerOptions) {
    if (options.queries.length !== options.spec.metrics.length) {
      throw new Error("one metric query per spec.metrics item is needed");
    }
    this.controller = new HpaController(options.spec, options.flags);
    // A Deployment applied with the HPA starts at minReplicas (at least one pod to scale from).
    this.desired = Math.max(1, options.spec.minReplicas);
  }

  get desiredReplicas(): number {
    return this.desired;
  }

  async start(): Promise<void> {
    await this.options.pool.scaleTo(this.desired);
    const sampleEvery = this.options.sampleIntervalMs ?? 1_000;
    this.sampleTimer = setInterval(() => void this.sample(), sampleEvery);
    this.syncTimer = setInterval(() => {
      this.syncing = this.syncing.then(async () => {
        await this.sync();
      });
    }, this.options.syncPeriodMs);
  }

  private async readAll(): Promise<(MetricSample | null)[]> {
    return Promise.all(
      this.options.queries.map(async (query) => {
        const value = await this.options.reader.read(query.name, query.selector);
        return value === null ? null : { value };
      }),
    );
  }

  /** One controller sync; public so tests and one-shot tools can drive it. */
  async sync(): Promise<DecisionRecord> {
    const metrics = await this.readAll();
    const pool = this.options.pool;
    const now = Date.now();
    const currentReplicas = this.desired;
    const decision = this.controller.sync({
      now: now / 1000,
      currentReplicas,
      statusReplicas: pool.replicas,
      readyPods: pool.readyReplicas,
      metrics,
    });
    const record: DecisionRecord = {
      t: now,
      value: metrics[0] && "value" in metrics[0] ? metrics[0].value : null,
      currentReplicas,
      desiredReplicas: decision.desiredReplicas,
      reason: decision.reason,
    };
    this.decisions.push(record);
    trim(this.decisions, this.options.keepDecisions ?? 1_000);
    if (decision.rescale && !this.stopped) {
      this.options.logger.info(
        { from: currentReplicas, to: decision.desiredReplicas, value: record.value, reason: decision.reason },
        "rescale",
      );
      this.desired = decision.desiredReplicas;
      await pool.scaleTo(this.desired);
    }
    this.options.onDecision?.(record);
    return record;
  }

  private async sample(): Promise<void> {
    if (this.stopped) return;
    const pool = this.options.pool;
    // The ReplicaSet part: a worker that died on its own is replaced.
    await pool.scaleTo(this.desired);
    const query = this.options.queries[0];
    const value = query ? await this.options.reader.read(query.name, query.selector) : null;
    this.samples.push({ t: Date.now(), value, replicas: pool.replicas, ready: pool.readyReplicas });
    trim(this.samples, this.options.keepSamples ?? 3_600);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.syncTimer);
    clearInterval(this.sampleTimer);
    await this.syncing;
    await this.options.pool.stopAll();
  }
}

function trim<T>(items: T[], keep: number): void {
  if (items.length > keep) items.splice(0, items.length - keep);
}
