import type { DrainModel } from "./model.js";
import type { DrainSummary } from "./run.js";

/** Figures over the phase draws: the median, and the range when there is more than one draw. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface SizingFigures {
  overTargetShare: Spread;
  p95WaitSeconds: Spread | null;
  replicaSeconds: Spread;
  peakReplicas: Spread;
  unfinished: Spread;
}

/** The median of a list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function figures(runs: readonly DrainSummary[]): SizingFigures {
  const waits = runs.map((run) => run.p95WaitSeconds).filter((wait): wait is number => wait !== null);
  return {
    overTargetShare: spread(runs.map((run) => run.overTargetShare)),
    p95WaitSeconds: waits.length === 0 ? null : spread(waits),
    replicaSeconds: spread(runs.map((run) => run.replicaSeconds)),
    peakReplicas: spread(runs.map((run) => run.peakReplicas)),
    unfinished: spread(runs.map((run) => run.unfinished)),
  };
}

/** `median unit (min–max)`, or the median alone when every draw gave the same figure. */
function show(value: Spread | null, format: (n: number) => string, unit = ""): string {
  if (value === null) return "–";
  const middle = `${format(value.median)}${unit}`;
  if (format(value.min) === format(value.max)) return middle;
  return `${middle} (${format(value.min)}–${format(value.max)})`;
}

const percent = (share: number) => String(Math.round(share * 100));
const whole = (n: number) => Math.round(n).toLocaleString("en");

export interface Comparison {
  workload: string;
  model: DrainModel;
  fixedTarget: number;
  floorTarget: number;
  runs: number;
  seed: number;
  fixed: SizingFigures;
  drain: SizingFigures;
  oracle: SizingFigures;
}

/** The human table: fixed target, drain time and the oracle side by side. */
export function comparisonTable(comparison: Comparison): string {
  const { model } = comparison;
  const p = model.pipeline;
  const rows: [string, string, string, string][] = [
    [
      "",
      `fixed target (${comparison.fixedTarget}/replica)`,
      `drain time (floor ${comparison.floorTarget}/replica)`,
      "oracle",
    ],
    ...(
      [
        ["share of time over T", (f) => show(f.overTargetShare, percent, " %")],
        ["p95 wait", (f) => show(f.p95WaitSeconds, whole, " s")],
        ["replica-seconds", (f) => show(f.replicaSeconds, whole)],
        ["peak replicas", (f) => show(f.peakReplicas, whole)],
        ["still waiting at the end", (f) => show(f.unfinished, whole)],
      ] as const satisfies readonly (readonly [string, (f: SizingFigures) => string])[]
    ).map(([label, cell]): [string, string, string, string] => [
      label,
      cell(comparison.fixed),
      cell(comparison.drain),
      cell(comparison.oracle),
    ]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const [first, ...later] = model.handler;
  const handler =
    `${first!.secondsPerMessage} s per message` +
    (later.length === 0
      ? ""
      : ` (${later.map((segment) => `${segment.secondsPerMessage} s from t=${segment.from} s`).join(", ")})`);
  const draws =
    comparison.runs === 1
      ? `phases from seed ${comparison.seed}`
      : `median (min–max) over ${comparison.runs} phase draws from seed ${comparison.seed}`;
  const lines = [
    `workload: ${comparison.workload}`,
    `model:    handler ${handler}, ${model.concurrency} at a time per worker, T = ${model.drainTargetSeconds} s, ` +
      `pods ready ${model.startupSeconds} s after creation, ${model.durationSeconds} s run from ${model.initialReplicas} replica(s)`,
    `pipeline: depth polled every ${p.pollIntervalSeconds} s, scraped every ${p.scrapeIntervalSeconds} s, ` +
      `rules every ${p.ruleIntervalSeconds} s, adapter ${p.adapterDelaySeconds} s, HPA sync every ${p.syncPeriodSeconds} s; ` +
      `rule windows ${model.windows.handlerSeconds} s (handler time), ${model.windows.arrivals} s (arrivals)`,
    `HPA runs: ${draws}`,
    "",
    ...rows.map((row) =>
      `${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2].padEnd(widths[2]!)}  ${row[3]}`.trimEnd(),
    ),
  ];
  return `${lines.join("\n")}\n`;
}
