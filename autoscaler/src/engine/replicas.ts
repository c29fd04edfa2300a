import { toMilli } from "./quantity.js";
import type { MetricSource } from "./spec.js";

/**
 * Replica proposals for one metric, following the controller's replica calculator
 * (pkg/controller/podautoscaler/replica_calculator.go). All values are compared in milli-units,
 * as the controller does, so integer division and rounding land where Kubernetes lands.
 */

/** Ratio band inside which the controller leaves the replica count alone. */
export interface Tolerances {
  scaleDown: number;
  scaleUp: number;
}

export function isWithinTolerance(tolerances: Tolerances, usageRatio: number): boolean {
  return 1 - tolerances.scaleDown <= usageRatio && usageRatio <= 1 + tolerances.scaleUp;
}

/** What was read for one metric at a sync; null when the metrics API had no answer. */
export type MetricSample =
  /** External metric (sum of its series) or the Object metric's value. */
  | { value: number }
  /**
   * Pods metric: one entry per running pod, null when that pod reported nothing ("missing");
   * `unreadyPods` are pods not yet running (Pending), whose samples the controller ignores.
   */
  | { podValues: (number | null)[]; unreadyPods?: number };

/** Replica counts the controller reads from the scale subresource and the pod list. */
export interface ReplicaCounts {
  /** scale.spec.replicas: the count the HPA last set ("currentReplicas"). */
  specReplicas: number;
  /** scale.status.replicas: pods that exist; AverageValue targets divide by it. */
  statusReplicas: number;
  /** Running and Ready pods; Value targets multiply by it. */
  readyPods: number;
}

export type Proposal = { ok: true; replicas: number; usageRatio: number } | { ok: false; error: string };

const MAX_INT32 = 2 ** 31 - 1;

function clampInt32(value: number): number {
  return value > MAX_INT32 ? MAX_INT32 : value;
}

/**
 * Value target (External or Object): usageRatio = value / target, desired = ceil(ratio × ready
 * pods), left at the current count inside the tolerance. From zero replicas (scale-to-zero) the
 * tolerance and ready pods are skipped: desired = ceil(ratio).
 */
export function valueTargetReplicas(
  usageMilli: number,
  targetMilli: number,
  counts: ReplicaCounts,
  tolerances: Tolerances,
): Proposal {
  const usageRatio = usageMilli / targetMilli;
  if (counts.specReplicas === 0) return { ok: true, replicas: Math.ceil(usageRatio), usageRatio };
  if (isWithinTolerance(tolerances, usageRatio)) return { ok: true, replicas: counts.specReplicas, usageRatio };
  // The ready count comes from listing the target's pods; with none at all the controller errs.
  if (counts.statusReplicas === 0) {
    return { ok: false, error: "no pods returned by selector while calculating replica count" };
  }
  const replicas = usageRatio * counts.readyPods;
  return { ok: true, replicas: replicas > MAX_INT32 ? MAX_INT32 : Math.ceil(replicas), usageRatio };
}

/**
 * AverageValue target (External or Object): the tolerance is checked on
 * total / (target × status replicas); outside it, desired = ceil(total / target).
 */
export function averageValueTargetReplicas(
  usageMilli: number,
  targetMilli: number,
  counts: ReplicaCounts,
  tolerances: Tolerances,
): Proposal {
  const usageRatio = usageMilli / (targetMilli * counts.statusReplicas);
  if (isWithinTolerance(tolerances, usageRatio)) return { ok: true, replicas: counts.statusReplicas, usageRatio };
  return { ok: true, replicas: clampInt32(Math.ceil(usageMilli / targetMilli)), usageRatio };
}

function averageRatio(valuesMilli: number[], targetMilli: number): number {
  const total = valuesMilli.reduce((sum, value) => sum + value, 0);
  // The controller averages int64 milli-values with integer division.
  return Math.trunc(total / valuesMilli.length) / targetMilli;
}

/**
 * Pods metric (AverageValue per pod), calcPlainMetricReplicas: ready pods with a sample set the
 * ratio; when some pods are missing or unready, the proposal is recomputed treating missing pods
 * as at target (scale-down) or 0 (scale-up), unready pods as 0 on a scale-up, and the change is
 * dropped if that flips its direction or lands inside the tolerance.
 */
export function podsTargetReplicas(
  sample: { podValues: (number | null)[]; unreadyPods?: number },
  targetMilli: number,
  specReplicas: number,
  tolerances: Tolerances,
): Proposal {
  const unready = sample.unreadyPods ?? 0;
  const reported = sample.podValues.filter((value): value is number => value !== null).map(toMilli);
  const missing = sample.podValues.length - reported.length;
  if (sample.podValues.length + unready === 0) {
    return { ok: false, error: "no pods returned by selector while calculating replica count" };
  }
  if (reported.length === 0) {
    return { ok: false, error: "did not receive metrics for targeted pods (pods might be unready)" };
  }
  const usageRatio = averageRatio(reported, targetMilli);
  const scaleUpWithUnready = unready > 0 && usageRatio > 1;
  if (!scaleUpWithUnready && missing === 0) {
    if (isWithinTolerance(tolerances, usageRatio)) return { ok: true, replicas: specReplicas, usageRatio };
    return { ok: true, replicas: Math.ceil(usageRatio * reported.length), usageRatio };
  }
  const filled = [...reported];
  if (missing > 0) {
    if (usageRatio < 1) for (let i = 0; i < missing; i++) filled.push(targetMilli);
    else if (usageRatio > 1) for (let i = 0; i < missing; i++) filled.push(0);
  }
  if (scaleUpWithUnready) for (let i = 0; i < unready; i++) filled.push(0);
  const newUsageRatio = averageRatio(filled, targetMilli);
  if (
    isWithinTolerance(tolerances, newUsageRatio) ||
    (usageRatio < 1 && newUsageRatio > 1) ||
    (usageRatio > 1 && newUsageRatio < 1)
  ) {
    return { ok: true, replicas: specReplicas, usageRatio };
  }
  const newReplicas = Math.ceil(newUsageRatio * filled.length);
  if ((newUsageRatio < 1 && newReplicas > specReplicas) || (newUsageRatio > 1 && newReplicas < specReplicas)) {
    return { ok: true, replicas: specReplicas, usageRatio };
  }
  return { ok: true, replicas: newReplicas, usageRatio };
}

/** A sample that does not fit its metric's type: the caller's mistake, not a metrics outage. */
export class SampleShapeError extends Error {}

/** The proposal for one metric spec and its sample. Throws SampleShapeError on a mismatch. */
export function metricReplicas(
  metric: MetricSource,
  sample: MetricSample,
  counts: ReplicaCounts,
  tolerances: Tolerances,
): Proposal {
  if (metric.type === "Pods") {
    if (!("podValues" in sample)) throw new SampleShapeError("a Pods metric needs {podValues: [...]}");
    return podsTargetReplicas(sample, metric.target.milli, counts.specReplicas, tolerances);
  }
  if (!("value" in sample)) throw new SampleShapeError(`an ${metric.type} metric needs {value: <total>}`);
  const usage = toMilli(sample.value);
  return metric.target.type === "AverageValue"
    ? averageValueTargetReplicas(usage, metric.target.milli, counts, tolerances)
    : valueTargetReplicas(usage, metric.target.milli, counts, tolerances);
}
