import { DEFAULT_FLAGS, HpaController, type ControllerFlags, type HpaSpec } from "../engine/index.js";

/**
 * Closed loop: a queue fed by bursts and arrival rates, drained by the ready replicas, scaled by
 * the HPA from what the metric pipeline lets it see. Time advances in whole seconds; within a
 * second, arrivals land first and then the replicas ready at its start work.
 */

export interface Burst {
  t: number;
  messages: number;
}

export interface RateSegment {
  from: number;
  to: number;
  perSecond: number;
}

export interface WorkloadModel {
  bursts: Burst[];
  rates: RateSegment[];
  /** Messages a ready replica finishes per second. */
  throughputPerReplica: number;
  /** Seconds from a pod's creation to its first message (image pull, start, readiness). */
  startupSeconds: number;
  /** Prometheus samples the depth this often; the HPA sees the latest sample. */
  scrapeIntervalSeconds: number;
  /** Extra seconds before a sample reaches the HPA (exporter poll, adapter query). */
  adapterDelaySeconds: number;
  syncPeriodSeconds: number;
  durationSeconds: number;
  initialReplicas: number;
}

export interface TimelinePoint {
  t: number;
  depth: number;
  replicas: number;
  ready: number;
}

export interface RunSummary {
  /** From the first arrival to the end of the last second with a backlog; null if never drained. */
  drainSeconds: number | null;
  peakReplicas: number;
  /** Σ replicas × seconds over the run, pods starting up included: what the run costs. */
  replicaSeconds: number;
  /** Direction changes of the replica count (up then down, or down then up). */
  flaps: number;
}

export interface RunResult {
  summary: RunSummary;
  timeline: TimelinePoint[];
}

const EPSILON = 1e-9;

/** Messages published during second t (bursts at t, and the rates' share of [t, t + 1)). */
export function arrivalsDuring(model: Pick<WorkloadModel, "bursts" | "rates">, t: number): number {
  let messages = 0;
  for (const burst of model.bursts) if (burst.t >= t && burst.t < t + 1) messages += burst.messages;
  for (const rate of model.rates) {
    const overlap = Math.min(rate.to, t + 1) - Math.max(rate.from, t);
    if (overlap > 0) messages += rate.perSecond * overlap;
  }
  return messages;
}

export function firstArrival(model: Pick<WorkloadModel, "bursts" | "rates">): number {
  return Math.min(...model.bursts.map((b) => b.t), ...model.rates.map((r) => r.from));
}

/**
 * The pods after the HPA set `target` replicas: new ones are ready at `readyAt`; on scale-down the
 * youngest go first (the ReplicaSet controller removes not-yet-ready pods before ready ones).
 * `pods` holds each pod's ready time.
 */
export function resizePods(pods: readonly number[], target: number, readyAt: number): number[] {
  if (target > pods.length) return [...pods, ...Array.from({ length: target - pods.length }, () => readyAt)];
  if (target < pods.length) return [...pods].sort((a, b) => a - b).slice(0, target);
  return [...pods];
}

export function countFlaps(counts: readonly number[]): number {
  let flaps = 0;
  let direction = 0;
  for (let i = 1; i < counts.length; i++) {
    const step = Math.sign(counts[i]! - counts[i - 1]!);
    if (step === 0) continue;
    if (direction !== 0 && step !== direction) flaps++;
    direction = step;
  }
  return flaps;
}

interface Loop {
  /** Called at the start of each second with the depth then; returns how many replicas exist and are ready. */
  replicasAt(t: number, depthNow: number): { replicas: number; ready: number };
}

function simulate(model: WorkloadModel, loop: Loop): RunResult {
  let queue = 0;
  let lastBacklogEnd: number | undefined;
  const timeline: TimelinePoint[] = [];
  let replicaSeconds = 0;
  for (let t = 0; t < model.durationSeconds; t++) {
    const { replicas, ready } = loop.replicasAt(t, queue);
    timeline.push({ t, depth: queue, replicas, ready });
    replicaSeconds += replicas;
    queue += arrivalsDuring(model, t);
    queue = Math.max(0, queue - ready * model.throughputPerReplica);
    if (queue > EPSILON) lastBacklogEnd = t + 1;
    else queue = 0;
  }
  const start = firstArrival(model);
  const drained = queue <= EPSILON;
  const summary: RunSummary = {
    drainSeconds: !drained ? null : lastBacklogEnd === undefined ? 0 : lastBacklogEnd - start,
    peakReplicas: Math.max(...timeline.map((p) => p.replicas)),
    replicaSeconds,
    flaps: countFlaps(timeline.map((p) => p.replicas)),
  };
  return { summary, timeline };
}

/** The HPA in the loop: pods start after startupSeconds; the metric arrives late. */
export function runWithHpa(model: WorkloadModel, spec: HpaSpec, flags: ControllerFlags = DEFAULT_FLAGS): RunResult {
  const controller = new HpaController(spec, flags);
  // Each pod is the time it becomes ready; the ReplicaSet removes pods that are not ready first.
  let pods: number[] = Array.from({ length: model.initialReplicas }, () => 0);
  const samples: { t: number; depth: number }[] = [];
  let seen = -1; // index of the latest sample old enough to have reached the HPA
  return simulate(model, {
    replicasAt(t, depthNow) {
      if (t % model.scrapeIntervalSeconds === 0) samples.push({ t, depth: depthNow });
      if (t % model.syncPeriodSeconds === 0) {
        while (seen + 1 < samples.length && samples[seen + 1]!.t + model.adapterDelaySeconds <= t) seen++;
        const visible = seen >= 0 ? samples[seen] : undefined;
        const decision = controller.sync({
          now: t,
          currentReplicas: pods.length,
          readyPods: pods.filter((readyAt) => readyAt <= t).length,
          metrics: spec.metrics.map(() => (visible === undefined ? null : { value: visible.depth })),
        });
        pods = resizePods(pods, decision.desiredReplicas, t + model.startupSeconds);
      }
      return { replicas: pods.length, ready: pods.filter((readyAt) => readyAt <= t).length };
    },
  });
}

/**
 * The yardstick: replicas jump to ceil(work present / target per replica) within min/max every
 * second and are ready at once, with the metric seen without delay.
 */
export function runWithOracle(model: WorkloadModel, spec: HpaSpec, targetPerReplica: number): RunResult {
  return simulate(model, {
    replicasAt(t, depthNow) {
      const work = depthNow + arrivalsDuring(model, t);
      const ideal = Math.min(
        spec.maxReplicas,
        Math.max(spec.minReplicas, Math.ceil(work / targetPerReplica - EPSILON)),
      );
      return { replicas: ideal, ready: ideal };
    },
  });
}

/** The per-replica target of the HPA's queue-depth metric: its first External/Object AverageValue. */
export function depthTarget(spec: HpaSpec): number | undefined {
  for (const metric of spec.metrics) {
    if (metric.type !== "Pods" && metric.target.type === "AverageValue") return metric.target.milli / 1000;
  }
  return undefined;
}
