import type { ControllerFlags, HpaSpec, ScalingRules } from "../engine/index.js";

function scaleRules(rules: ScalingRules, factor: number): ScalingRules {
  return {
    ...rules,
    stabilizationWindowSeconds:
      rules.stabilizationWindowSeconds === undefined ? undefined : rules.stabilizationWindowSeconds / factor,
    policies: rules.policies.map((policy) => ({ ...policy, periodSeconds: policy.periodSeconds / factor })),
  };
}

/**
 * Divides every time window of the algorithm (stabilization windows, policy periods, the
 * controller's downscale stabilization) by `factor`, so a demo shows in one minute what a cluster
 * does in ten. The ratios between windows, and so the shape of the behaviour, stay the same.
 */
export function scaleTime(
  spec: HpaSpec,
  flags: ControllerFlags,
  factor: number,
): { spec: HpaSpec; flags: ControllerFlags } {
  if (factor === 1) return { spec, flags };
  return {
    spec: {
      ...spec,
      behavior: spec.behavior && {
        scaleUp: scaleRules(spec.behavior.scaleUp, factor),
        scaleDown: scaleRules(spec.behavior.scaleDown, factor),
      },
    },
    flags: { ...flags, downscaleStabilizationSeconds: flags.downscaleStabilizationSeconds / factor },
  };
}
