import {
  limitLegacy,
  limitWithBehavior,
  stabilizeLegacy,
  stabilizeWithBehavior,
  storeScaleEvent,
  type Limited,
  type Stabilized,
} from "./behavior.js";
import {
  SampleShapeError,
  metricReplicas,
  type MetricSample,
  type ReplicaCounts,
  type Tolerances,
} from "./replicas.js";
import { describeMetric, type HpaSpec } from "./spec.js";
import { cloneState, emptyState, type HpaState } from "./state.js";

/**
 * One sync of the HPA controller for one HPA (reconcileAutoscaler), without I/O: the caller
 * passes what the controller would read (scale subresource, pods, metrics) and keeps the state.
 */

/** kube-controller-manager flags that change the algorithm. */
export interface ControllerFlags {
  /** --horizontal-pod-autoscaler-tolerance (0.1). */
  tolerance: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (300 s). */
  downscaleStabilizationSeconds: number;
}

export const DEFAULT_FLAGS: ControllerFlags = { tolerance: 0.1, downscaleStabilizationSeconds: 300 };

export interface Observation {
  /** Seconds on the caller's clock. */
  now: number;
  /** scale.spec.replicas. */
  currentReplicas: number;
  /** scale.status.replicas; defaults to currentReplicas. */
  statusReplicas?: number;
  /** Running and Ready pods; defaults to statusReplicas. */
  readyPods?: number;
  /** One entry per spec.metrics item, in order; null when the metrics API had no answer. */
  metrics: (MetricSample | null)[];
}

export interface Decision {
  /** The replica count the HPA sets (equal to currentReplicas when it does not rescale). */
  desiredReplicas: number;
  rescale: boolean;
  /** The largest metric proposal, before stabilization and limits; undefined when none was computed. */
  metricReplicas: number | undefined;
  /** After the stabilization window, before rate limits and min/max. */
  stabilizedReplicas: number | undefined;
  /** One line: why the count is what it is, in the controller's words. */
  reason: string;
}

export class HpaStateError extends Error {}

function tolerancesFor(spec: HpaSpec, flags: ControllerFlags): Tolerances {
  return {
    scaleUp: spec.behavior?.scaleUp.tolerance ?? flags.tolerance,
    scaleDown: spec.behavior?.scaleDown.tolerance ?? flags.tolerance,
  };
}

interface MetricsOutcome {
  replicas: number;
  metric: string;
  errors: string[];
}

/** computeReplicasForMetrics: the largest proposal of the metrics that answered. */
function computeReplicasForMetrics(
  spec: HpaSpec,
  observation: Observation,
  counts: ReplicaCounts,
  tolerances: Tolerances,
): MetricsOutcome | { failed: string } {
  let replicas = 0;
  let metric = "";
  const errors: string[] = [];
  spec.metrics.forEach((source, index) => {
    const sample = observation.metrics[index];
    if (sample === null || sample === undefined) {
      errors.push(`failed to get ${describeMetric(source)}: no value`);
      return;
    }
    let proposal;
    try {
      proposal = metricReplicas(source, sample, counts, tolerances);
    } catch (error) {
      if (error instanceof SampleShapeError) throw new HpaStateError(`metrics[${index}]: ${error.message}`);
      throw error;
    }
    if (!proposal.ok) {
      errors.push(`failed to get ${describeMetric(source)}: ${proposal.error}`);
      return;
    }
    if (replicas === 0 || proposal.replicas > replicas) {
      replicas = proposal.replicas;
      metric = describeMetric(source);
    }
  });
  const summary = `invalid metrics (${errors.length} invalid out of ${spec.metrics.length}), first error is: ${errors[0]}`;
  // A missing metric never lets the HPA scale down: it might be the one holding the count up.
  if (errors.length >= spec.metrics.length || (errors.length > 0 && replicas < counts.specReplicas)) {
    return { failed: summary };
  }
  return { replicas, metric, errors: errors.length > 0 ? [summary] : [] };
}

function checkObservation(spec: HpaSpec, observation: Observation): void {
  if (observation.metrics.length !== spec.metrics.length) {
    throw new HpaStateError(
      `metrics: expected ${spec.metrics.length} entries (one per spec.metrics item), got ${observation.metrics.length}`,
    );
  }
}

/**
 * Runs one sync. `state` is updated in place (recommendations recorded, scale events stored) the
 * way the controller updates its memory.
 */
export function reconcile(
  spec: HpaSpec,
  observation: Observation,
  state: HpaState,
  flags: ControllerFlags = DEFAULT_FLAGS,
): Decision {
  checkObservation(spec, observation);
  const { now } = observation;
  const current = observation.currentReplicas;
  const statusReplicas = observation.statusReplicas ?? current;
  const counts: ReplicaCounts = {
    specReplicas: current,
    statusReplicas,
    readyPods: observation.readyPods ?? statusReplicas,
  };
  // recordInitialRecommendation: a new HPA starts from the current count, which is why it does
  // not scale down during its first window.
  if (state.recommendations.length === 0) state.recommendations.push({ t: now, replicas: current });

  const hold = (reason: string, metric?: number): Decision => ({
    desiredReplicas: current,
    rescale: false,
    metricReplicas: metric,
    stabilizedReplicas: undefined,
    reason,
  });

  let desired: number;
  let reason: string;
  let metricProposal: number | undefined;
  let stabilized: Stabilized | undefined;
  let limited: Limited | undefined;
  let warning = "";

  if (current === 0 && spec.minReplicas !== 0) {
    return hold("ScalingDisabled: scaling is disabled since the replica count of the target is zero");
  } else if (current > spec.maxReplicas) {
    desired = spec.maxReplicas;
    reason = "Current number of replicas above Spec.MaxReplicas";
  } else if (current < spec.minReplicas) {
    desired = spec.minReplicas;
    reason = "Current number of replicas below Spec.MinReplicas";
  } else {
    const outcome = computeReplicasForMetrics(spec, observation, counts, tolerancesFor(spec, flags));
    if ("failed" in outcome) return hold(`FailedComputeMetricsReplicas: ${outcome.failed}`);
    if (outcome.errors.length > 0) warning = `; ${outcome.errors[0]}`;
    metricProposal = outcome.replicas;
    desired = Math.max(0, outcome.replicas);
    reason =
      desired > current
        ? `${outcome.metric} above target`
        : desired < current
          ? "All metrics below target"
          : "metrics within tolerance of target";
    if (spec.behavior === undefined) {
      stabilized = stabilizeLegacy(state, desired, flags.downscaleStabilizationSeconds, now);
      limited = limitLegacy(stabilized.replicas, current, spec.minReplicas, spec.maxReplicas);
    } else {
      const { scaleUp, scaleDown } = spec.behavior;
      const downWindow = scaleDown.stabilizationWindowSeconds ?? flags.downscaleStabilizationSeconds;
      stabilized = stabilizeWithBehavior(
        state,
        desired,
        current,
        scaleUp.stabilizationWindowSeconds ?? 0,
        downWindow,
        now,
      );
      limited = limitWithBehavior(
        state,
        stabilized.replicas,
        current,
        spec.minReplicas,
        spec.maxReplicas,
        scaleUp,
        scaleDown,
        now,
      );
    }
    desired = limited.replicas;
  }

  const rescale = desired !== current;
  if (rescale && spec.behavior !== undefined) {
    storeScaleEvent(state, spec.behavior.scaleUp, spec.behavior.scaleDown, current, desired, now);
  }
  const parts = [metricProposal === undefined ? reason : `${reason} (proposal ${metricProposal})`];
  if (stabilized && stabilized.reason !== "ReadyForNewScale") {
    parts.push(`${stabilized.reason}: window holds ${stabilized.replicas}`);
  }
  if (limited && limited.reason !== "DesiredWithinRange") parts.push(`${limited.reason}: ${limited.message}`);
  return {
    desiredReplicas: desired,
    rescale,
    metricReplicas: metricProposal,
    stabilizedReplicas: stabilized?.replicas,
    reason: `${parts.join("; ")}${warning}`,
  };
}

/** Keeps the state between syncs: what a running controller does for one HPA. */
export class HpaController {
  readonly state: HpaState;

  constructor(
    readonly spec: HpaSpec,
    readonly flags: ControllerFlags = DEFAULT_FLAGS,
    state: HpaState = emptyState(),
  ) {
    this.state = cloneState(state);
  }

  sync(observation: Observation): Decision {
    return reconcile(this.spec, observation, this.state, this.flags);
  }
}
