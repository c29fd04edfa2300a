import type { Burst, RateSegment } from "../workload.js";

/**
 * What `queuescale-sim drain` simulates: a queue fed by bursts and rates, workers that each run
 * `concurrency` handlers of a given duration, and a metric pipeline with the stages a real
 * deployment has (exporter poll, Prometheus scrape, rule evaluation, HPA sync), each ticking on its
 * own phase. Time moves in whole seconds.
 */

/** From second `from` on, one message takes the handler this long (until the next segment). */
export interface HandlerSegment {
  from: number;
  secondsPerMessage: number;
}

/** The stages between the broker and the HPA. Each ticks every `interval` seconds at its own phase. */
export interface PipelineModel {
  /** The exporter (and each worker) reads the broker's depth this often. */
  pollIntervalSeconds: number;
  /** Prometheus scrapes the exporter and the workers this often. */
  scrapeIntervalSeconds: number;
  /** Prometheus evaluates the recording rules this often (`evaluation_interval`). */
  ruleIntervalSeconds: number;
  /** Seconds between a value being in Prometheus and the HPA acting on it (adapter query). */
  adapterDelaySeconds: number;
  /** The HPA syncs this often (`--horizontal-pod-autoscaler-sync-period`). */
  syncPeriodSeconds: number;
}

/** Offsets (0 ≤ phase < interval) of the stages' ticks: a stage ticks at seconds t ≡ phase (mod interval). */
export interface Phases {
  poll: number;
  scrape: number;
  rule: number;
  sync: number;
}

/** The range windows of the recording rule: the same in the simulator as in monitoring/rules. */
export interface RuleWindows {
  /** Mean handler seconds per message over the completions of this window. */
  handlerSeconds: number;
  /** Arrival rate: completions plus the change of the backlog over this window. */
  arrivals: number;
  /** When nothing completed within the window, the last known handler time is used for this long. */
  lastKnownHandlerSeconds: number;
}

/** The windows monitoring/rules ships (`[1m]`, `[1h]`); a test there keeps the two equal. */
export const DEFAULT_RULE_WINDOWS: RuleWindows = { handlerSeconds: 60, arrivals: 60, lastKnownHandlerSeconds: 3600 };

export interface DrainModel {
  bursts: Burst[];
  rates: RateSegment[];
  /** Handler time per message over the run; the first segment starts at 0. */
  handler: HandlerSegment[];
  /** Messages one worker handles at once (`CONCURRENCY`). */
  concurrency: number;
  /** T: every message present should start within this many seconds (`DRAIN_TARGET_SECONDS`). */
  drainTargetSeconds: number;
  /** Seconds from a pod's creation to its first message. */
  startupSeconds: number;
  pipeline: PipelineModel;
  windows: RuleWindows;
  durationSeconds: number;
  initialReplicas: number;
}

/** The metric that carries the drain-time rule to the HPA (the adapter's name for the recording rule). */
export const REQUIRED_REPLICAS_METRIC = "queuescale_queue_required_replicas";

/** Seconds per message at second t. */
export function handlerSecondsAt(model: Pick<DrainModel, "handler">, t: number): number {
  let seconds = model.handler[0]!.secondsPerMessage;
  for (const segment of model.handler) if (segment.from <= t) seconds = segment.secondsPerMessage;
  return seconds;
}

/** Messages per second the rate segments publish at second t (bursts are not a rate). */
export function arrivalRateAt(model: Pick<DrainModel, "rates">, t: number): number {
  let rate = 0;
  for (const segment of model.rates) if (segment.from <= t && t < segment.to) rate += segment.perSecond;
  return rate;
}

/** Whether a stage with this interval and phase ticks at second t. */
export function ticks(t: number, interval: number, phase: number): boolean {
  return (t - phase) % interval === 0 && t >= phase;
}
