import type { ScalingRules } from "./spec.js";
import type { HpaState, Recommendation, ScaleEvent } from "./state.js";

/**
 * Turning the metrics' proposal into the replica count to set, as the controller's
 * normalizeDesiredReplicas (no `behavior`) and normalizeDesiredReplicasWithBehaviors do
 * (pkg/controller/podautoscaler/horizontal.go). Comparisons keep the controller's strictness:
 * a sample exactly one window old counts in the legacy path and not in the behavior path.
 */

export interface Limited {
  replicas: number;
  /** Condition reason: DesiredWithinRange, ScaleUpLimit, ScaleDownLimit, TooManyReplicas, TooFewReplicas. */
  reason: string;
  message: string;
}

const MAX_INT32 = 2 ** 31 - 1;
const MIN_INT32 = -(2 ** 31);

/** Replicas added (or removed) by events strictly newer than `periodSeconds`. */
export function replicasChangedInPeriod(events: readonly ScaleEvent[], periodSeconds: number, now: number): number {
  const cutoff = now - periodSeconds;
  let total = 0;
  for (const event of events) if (event.t > cutoff) total += event.change;
  return total;
}

/** The highest count the scale-up rules allow now (calculateScaleUpLimitWithScalingRules). */
export function scaleUpLimit(current: number, state: HpaState, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === "Disabled") return current;
  const pick = rules.selectPolicy === "Min" ? Math.min : Math.max;
  let result = rules.selectPolicy === "Min" ? MAX_INT32 : MIN_INT32;
  for (const policy of rules.policies) {
    const added = replicasChangedInPeriod(state.scaleUpEvents, policy.periodSeconds, now);
    const removed = replicasChangedInPeriod(state.scaleDownEvents, policy.periodSeconds, now);
    const periodStart = current - added + removed;
    // Rounded up so that a percentage of a small count still adds a pod.
    const proposed =
      policy.type === "Pods" ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** The lowest count the scale-down rules allow now (calculateScaleDownLimitWithBehaviors). */
export function scaleDownLimit(current: number, state: HpaState, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === "Disabled") return current;
  // For scale-down the least change ("Min") is the highest floor.
  const pick = rules.selectPolicy === "Min" ? Math.max : Math.min;
  let result = rules.selectPolicy === "Min" ? MIN_INT32 : MAX_INT32;
  for (const policy of rules.policies) {
    const added = replicasChangedInPeriod(state.scaleUpEvents, policy.periodSeconds, now);
    const removed = replicasChangedInPeriod(state.scaleDownEvents, policy.periodSeconds, now);
    const periodStart = current - added + removed;
    // int32(float64(...)) truncates: 10 % off 15 pods leaves 13 (13.5 → 13).
    const proposed =
      policy.type === "Pods" ? periodStart - policy.value : Math.trunc(periodStart * (1 - policy.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

function recordRecommendation(recommendations: Recommendation[], oldIndex: number | undefined, rec: Recommendation) {
  if (oldIndex === undefined) recommendations.push(rec);
  else recommendations[oldIndex] = rec;
}

export interface Stabilized {
  replicas: number;
  /** ScaleUpStabilized / ScaleDownStabilized when the window changed the proposal, else ReadyForNewScale. */
  reason: string;
}

/**
 * stabilizeRecommendationWithBehaviors: the proposal is kept between the lowest recommendation
 * of the scale-up window and the highest of the scale-down window (both including the current
 * proposal), starting from the current count; then the proposal is recorded.
 */
export function stabilizeWithBehavior(
  state: HpaState,
  proposal: number,
  current: number,
  upWindowSeconds: number,
  downWindowSeconds: number,
  now: number,
): Stabilized {
  const upCutoff = now - upWindowSeconds;
  const downCutoff = now - downWindowSeconds;
  let upRecommendation = proposal;
  let downRecommendation = proposal;
  let oldIndex: number | undefined;
  state.recommendations.forEach((rec, index) => {
    if (rec.t > upCutoff) upRecommendation = Math.min(rec.replicas, upRecommendation);
    if (rec.t > downCutoff) downRecommendation = Math.max(rec.replicas, downRecommendation);
    if (rec.t < upCutoff && rec.t < downCutoff) oldIndex = index;
  });
  let replicas = current;
  if (replicas < upRecommendation) replicas = upRecommendation;
  if (replicas > downRecommendation) replicas = downRecommendation;
  recordRecommendation(state.recommendations, oldIndex, { t: now, replicas: proposal });
  const reason =
    replicas === proposal ? "ReadyForNewScale" : proposal >= current ? "ScaleUpStabilized" : "ScaleDownStabilized";
  return { replicas, reason };
}

/** convertDesiredReplicasWithBehaviorRate: rate limits from the policies, then min/max. */
export function limitWithBehavior(
  state: HpaState,
  desired: number,
  current: number,
  minReplicas: number,
  maxReplicas: number,
  scaleUp: ScalingRules,
  scaleDown: ScalingRules,
  now: number,
): Limited {
  if (desired > current) {
    let limit = scaleUpLimit(current, state, scaleUp, now);
    // Events still inside the period can push the limit below the current count: hold.
    if (limit < current) limit = current;
    const [maximum, reason, message] =
      maxReplicas > limit
        ? [limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"]
        : [maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"];
    if (desired > maximum) return { replicas: maximum, reason, message };
  } else if (desired < current) {
    let limit = scaleDownLimit(current, state, scaleDown, now);
    if (limit > current) limit = current;
    const [minimum, reason, message] =
      minReplicas < limit
        ? [limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"]
        : [minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"];
    if (desired < minimum) return { replicas: minimum, reason, message };
  }
  return {
    replicas: desired,
    reason: "DesiredWithinRange",
    message: "the desired count is within the acceptable range",
  };
}

/**
 * Legacy stabilizeRecommendation (no `behavior`): the highest recommendation not older than the
 * controller's downscale window, including this one; then the proposal is recorded.
 */
export function stabilizeLegacy(state: HpaState, proposal: number, windowSeconds: number, now: number): Stabilized {
  const cutoff = now - windowSeconds;
  let replicas = proposal;
  let oldIndex: number | undefined;
  state.recommendations.forEach((rec, index) => {
    if (rec.t < cutoff) oldIndex = index;
    else if (rec.replicas > replicas) replicas = rec.replicas;
  });
  recordRecommendation(state.recommendations, oldIndex, { t: now, replicas: proposal });
  return { replicas, reason: replicas === proposal ? "ReadyForNewScale" : "ScaleDownStabilized" };
}

/** Legacy convertDesiredReplicasWithRules: at most max(2 × current, 4) per sync, then min/max. */
export function limitLegacy(desired: number, current: number, minReplicas: number, maxReplicas: number): Limited {
  const upLimit = Math.trunc(Math.max(2 * current, 4));
  const [maximum, reason, message] =
    maxReplicas > upLimit
      ? [upLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"]
      : [maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"];
  if (desired < minReplicas) {
    return {
      replicas: minReplicas,
      reason: "TooFewReplicas",
      message: "the desired replica count is less than the minimum replica count",
    };
  }
  if (desired > maximum) return { replicas: maximum, reason, message };
  return {
    replicas: desired,
    reason: "DesiredWithinRange",
    message: "the desired count is within the acceptable range",
  };
}

function longestPeriod(rules: ScalingRules): number {
  return rules.policies.reduce((longest, policy) => Math.max(longest, policy.periodSeconds), 0);
}

/**
 * storeScaleEvent: events older than the longest policy period of that direction are marked
 * outdated and the last of them is overwritten; otherwise the event is appended.
 */
export function storeScaleEvent(
  state: HpaState,
  scaleUp: ScalingRules,
  scaleDown: ScalingRules,
  previous: number,
  next: number,
  now: number,
): void {
  const up = next > previous;
  const events = up ? state.scaleUpEvents : state.scaleDownEvents;
  const cutoff = now - longestPeriod(up ? scaleUp : scaleDown);
  let oldIndex: number | undefined;
  events.forEach((event, index) => {
    if (event.t < cutoff) event.outdated = true;
    if (event.outdated) oldIndex = index;
  });
  const event: ScaleEvent = { t: now, change: up ? next - previous : previous - next, outdated: false };
  if (oldIndex === undefined) events.push(event);
  else events[oldIndex] = event;
}
