import { DEFAULT_FLAGS, HpaController, type ControllerFlags, type HpaSpec } from "../engine/index.js";
import type { TracePoint } from "./trace.js";

export interface ReplayRow {
  t: number;
  /** The metric total the HPA read; null while unavailable. */
  value: number | null;
  /** The metrics' proposal before stabilization, rate limits and min/max; null when none. */
  desired: number | null;
  /** The replica count after this sync. */
  replicas: number;
  reason: string;
}

export interface ReplayOptions {
  syncPeriodSeconds: number;
  initialReplicas: number;
  flags?: ControllerFlags;
}

/**
 * Open loop: the trace is the metric, whatever the HPA does. One sync every period from the
 * first row's time to the last; each sync reads the latest row at or before it. Every metric of
 * the HPA reads the same value (the trace has one column), so the trace fits HPAs on External or
 * Object metrics.
 */
export function replay(spec: HpaSpec, trace: readonly TracePoint[], options: ReplayOptions): ReplayRow[] {
  const controller = new HpaController(spec, options.flags ?? DEFAULT_FLAGS);
  const rows: ReplayRow[] = [];
  let replicas = options.initialReplicas;
  let next = 0;
  const start = trace[0]!.t;
  const end = trace.at(-1)!.t;
  for (let t = start; t <= end; t += options.syncPeriodSeconds) {
    while (next + 1 < trace.length && trace[next + 1]!.t <= t) next++;
    const point = trace[next]!;
    const decision = controller.sync({
      now: t,
      currentReplicas: replicas,
      readyPods: point.ready,
      metrics: spec.metrics.map(() => (point.value === null ? null : { value: point.value })),
    });
    replicas = decision.desiredReplicas;
    rows.push({ t, value: point.value, desired: decision.metricReplicas ?? null, replicas, reason: decision.reason });
  }
  return rows;
}
