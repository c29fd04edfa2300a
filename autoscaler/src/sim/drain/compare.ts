import { DEFAULT_FLAGS, type ControllerFlags, type HpaSpec } from "../../engine/index.js";
import { depthTarget } from "../workload.js";
import { REQUIRED_REPLICAS_METRIC, type DrainModel } from "./model.js";
import { drawPhases } from "./phases.js";
import { figures, type Comparison } from "./report.js";
import { drainTimeSpec, fixedTargetSpec, runHpa, runOracle, type DrainRunResult } from "./run.js";

export interface CompareOptions {
  /** Messages per replica on the drain-time HPA's depth metric; default: the manifest's. */
  floorTarget?: number;
  runs: number;
  seed: number;
  flags?: ControllerFlags;
}

export interface CompareResult {
  comparison: Omit<Comparison, "workload">;
  /** The first phase draw's runs, for a chart. */
  first: { fixed: DrainRunResult; drain: DrainRunResult; oracle: DrainRunResult };
}

/** The drain-time HPA's depth metrics with the floor target instead of the manifest's. */
function withFloor(spec: HpaSpec, floorTarget: number | undefined): HpaSpec {
  if (floorTarget === undefined) return spec;
  return {
    ...spec,
    metrics: spec.metrics.map((metric) =>
      metric.name === REQUIRED_REPLICAS_METRIC || metric.target.type !== "AverageValue"
        ? metric
        : { ...metric, target: { type: "AverageValue" as const, milli: Math.round(floorTarget * 1000) } },
    ),
  };
}

/**
 * The fixed-target HPA and the drain-time HPA on the same phase draws, and the oracle once (it has
 * no pipeline). Throws when the HPA has no depth metric with an AverageValue target.
 */
export function compare(model: DrainModel, spec: HpaSpec, options: CompareOptions): CompareResult {
  const fixedSpec = fixedTargetSpec(spec);
  const drainSpec = withFloor(drainTimeSpec(spec), options.floorTarget);
  const fixedTarget = depthTarget(fixedSpec);
  const floorTarget = depthTarget(fixedTargetSpec(drainSpec));
  if (fixedTarget === undefined || floorTarget === undefined) {
    throw new Error("the HPA needs a depth metric (External or Object) with an AverageValue target");
  }
  const flags = options.flags ?? DEFAULT_FLAGS;
  const phases = drawPhases(model.pipeline, options.runs, options.seed);
  const fixed = phases.map((phase) => runHpa(model, fixedSpec, phase, flags));
  const drain = phases.map((phase) => runHpa(model, drainSpec, phase, flags));
  const oracle = runOracle(model, spec);
  return {
    comparison: {
      model,
      fixedTarget,
      floorTarget,
      runs: options.runs,
      seed: options.seed,
      fixed: figures(fixed.map((run) => run.summary)),
      drain: figures(drain.map((run) => run.summary)),
      oracle: figures([oracle.summary]),
    },
    first: { fixed: fixed[0]!, drain: drain[0]!, oracle },
  };
}
