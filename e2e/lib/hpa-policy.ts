/**
 * The bounds autoscaling/v2 behavior puts on one scaling step, as the Kubernetes documentation
 * describes them: a policy limits the change relative to the replica count at the start of its
 * period; scale-up rounds a Percent proposal up, scale-down truncates it; selectPolicy Max takes
 * the policy allowing the most change, Min the least.
 */
export interface ScalingPolicy {
  type: "Pods" | "Percent";
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: "Max" | "Min" | "Disabled";
  policies?: ScalingPolicy[];
}

export interface HpaSpec {
  minReplicas?: number;
  maxReplicas: number;
  metrics: { external?: { target?: { type?: string; averageValue?: string } } }[];
  behavior?: { scaleUp?: ScalingRules; scaleDown?: ScalingRules };
}

/** A replica count change seen on the Deployment. */
export interface ReplicaChange {
  at: number;
  from: number;
  to: number;
}

/** The replica count at the start of a policy's period: now, minus what changed since. */
function periodStart(current: number, changes: readonly ReplicaChange[], now: number, periodSeconds: number): number {
  const since = now - periodSeconds * 1000;
  return changes
    .filter((change) => change.at > since)
    .reduce((count, change) => count - (change.to - change.from), current);
}

/** The most replicas scale-up may reach from `current` at `now`. */
export function scaleUpLimit(
  rules: ScalingRules,
  current: number,
  changes: readonly ReplicaChange[],
  now: number,
): number {
  const proposals = (rules.policies ?? []).map((policy) => {
    const start = periodStart(current, changes, now, policy.periodSeconds);
    return policy.type === "Pods" ? start + policy.value : Math.ceil(start * (1 + policy.value / 100));
  });
  if (proposals.length === 0) return Number.POSITIVE_INFINITY;
  return rules.selectPolicy === "Min" ? Math.min(...proposals) : Math.max(...proposals);
}

/** The fewest replicas scale-down may reach from `current` at `now`. */
export function scaleDownLimit(
  rules: ScalingRules,
  current: number,
  changes: readonly ReplicaChange[],
  now: number,
): number {
  const proposals = (rules.policies ?? []).map((policy) => {
    const start = periodStart(current, changes, now, policy.periodSeconds);
    return policy.type === "Pods" ? start - policy.value : Math.trunc(start * (1 - policy.value / 100));
  });
  if (proposals.length === 0) return 0;
  // Min picks the smallest change, which for scale-down is the highest floor.
  return rules.selectPolicy === "Min" ? Math.max(...proposals) : Math.min(...proposals);
}
