/**
 * `make demo SCALING=drain-time`: the same steady inflow twice, back to back, on the local broker:
 * first with the overlay's HPA (depth only, messages per replica), then with k8s/components/drain-time
 * added (required replicas first, depth as the floor). Midway the example handler gets 10× slower
 * (the messages carry their work time). A real Prometheus scrapes the exporter and the workers and
 * evaluates the shipped recording rules; the local autoscaler reads both metrics through the
 * shipped adapter rules. The summary puts each run's p95 wait (publish to handler start, which the
 * workers record per message) next to T.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { quantile } from "@queuescale/core";
import { writeChart, type ChartPoint } from "../autoscaler/src/sim/chart.js";
import { LocalStack, ROOT, processedIds, type StatusState } from "./stack/index.js";
import { watchInterrupt } from "./stack/run-settings.js";

const BROKER = process.env.BROKER ?? "rabbitmq";
const TIME_SCALE = Number(process.env.DEMO_TIME_SCALE ?? 10);
const MAX_REPLICAS = Number(process.env.DEMO_MAX_REPLICAS ?? 10);
const CONCURRENCY = Number(process.env.DEMO_CONCURRENCY ?? 2);
const RATE = Number(process.env.DEMO_RATE ?? 6);
const FAST_MS = Number(process.env.DEMO_WORK_MS ?? 200);
const SLOW_MS = Number(process.env.DEMO_SLOW_WORK_MS ?? FAST_MS * 10);
const SLOW_AT_SECONDS = Number(process.env.DEMO_SLOW_AT_SECONDS ?? 40);
const PUBLISH_SECONDS = Number(process.env.DEMO_PUBLISH_SECONDS ?? 200);
const DEADLINE_MS = Number(process.env.DEMO_DEADLINE_SECONDS ?? 480) * 1000;
const SCRAPE_SECONDS = 5;
const OUT = join(ROOT, ".tmp", "demo");

const count = (value: number) => value.toLocaleString("en");

interface RunFigures {
  label: string;
  published: number;
  processed: { distinct: number; records: number };
  waitsMs: number[];
  peak: number;
  replicaSeconds: number;
  drainedSeconds: number | undefined;
  scaleEvents: string[];
  /** T as the overlay (with its components) sets it on the workers, when it does. */
  drainTargetSeconds: number | undefined;
}

/** First-delivery waits (ms) from the example handler's record file: id, attempt, pid, wait. */
function recordedWaits(recordFile: string): number[] {
  if (!existsSync(recordFile)) return [];
  return readFileSync(recordFile, "utf8")
    .split("\n")
    .map((line) => line.split("\t"))
    .filter((fields) => fields[1] === "1" && fields[3] !== undefined && fields[3] !== "")
    .map((fields) => Number(fields[3]));
}

async function queryValue(stack: LocalStack, expr: string): Promise<number | undefined> {
  try {
    const result = await stack.prometheus!.query(expr);
    return result.length === 0 ? undefined : result.reduce((sum, sample) => sum + Number(sample.value[1]), 0);
  } catch {
    return undefined;
  }
}

async function runOnce(label: string, components: string[], stopped: () => boolean): Promise<RunFigures> {
  const out = join(OUT, components.length === 0 ? "depth-only" : "drain-time");
  const recordFile = join(out, "processed.tsv");
  console.log(`\n${label}`);
  const stack = await LocalStack.start({
    broker: BROKER,
    out,
    timeScale: TIME_SCALE,
    maxReplicas: MAX_REPLICAS,
    workMs: FAST_MS,
    concurrency: CONCURRENCY,
    workerEnv: { WORK_RECORD_FILE: recordFile },
    components,
    prometheus: { scrapeIntervalSeconds: SCRAPE_SECONDS, evaluationIntervalSeconds: SCRAPE_SECONDS },
  });
  try {
    const metrics = (stack.hpa.spec?.metrics ?? []).map((metric) => metric.external?.metric?.name).join(" + ");
    console.log(`  ${stack.plan.describe}; HPA metrics: ${metrics}`);
    console.log(`  status page ${stack.statusUrl}/   Prometheus ${stack.prometheus!.baseUrl}   logs ${out}/\n`);
    const identity = Object.entries(stack.plan.selector)
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(",");
    const started = Date.now();
    let published = 0;
    let peak = 0;
    let replicaSeconds = 0;
    let lastSampleT: number | undefined;
    let drainedAt: number | undefined;
    let state: StatusState | undefined;
    // The autoscaler's samples carry the HPA's first metric, which is the required replicas with
    // the component: the backlog and the required replicas for the chart come from Prometheus.
    const points: ChartPoint[] = [];
    for (let second = 0; !stopped() && Date.now() - started < DEADLINE_MS; second++) {
      if (second < PUBLISH_SECONDS) {
        const ms = second < SLOW_AT_SECONDS ? FAST_MS : SLOW_MS;
        published += await stack.publish(RATE, RATE, (n) => ({ n: published + n, ms }));
      }
      const wake = started + (second + 1) * 1000;
      await delay(Math.max(0, wake - Date.now()));
      state = await stack.state();
      for (const sample of state.samples) {
        if (sample.t < started || (lastSampleT !== undefined && sample.t <= lastSampleT)) continue;
        if (lastSampleT !== undefined) replicaSeconds += (sample.replicas * (sample.t - lastSampleT)) / 1000;
        lastSampleT = sample.t;
        peak = Math.max(peak, sample.replicas);
      }
      const last = state.samples.at(-1);
      const processed = processedIds(recordFile).distinct;
      if (second >= PUBLISH_SECONDS && drainedAt === undefined && processed >= published) drainedAt = Date.now();
      if (second % 5 === 4) {
        const depth = await queryValue(stack, `sum(queuescale:queue_depth:max{${identity}})`);
        const required = await queryValue(stack, `sum(queuescale:queue_required_replicas{${identity}})`);
        const handler = await queryValue(stack, `max(queuescale:queue_handler_seconds:last1h{${identity}})`);
        const t = (Date.now() - started) / 1000;
        points.push({ t, series: "backlog", value: depth ?? null, axis: "messages" });
        if (required !== undefined) points.push({ t, series: "required replicas", value: required, axis: "replicas" });
        const waits = recordedWaits(recordFile).slice(-50);
        console.log(
          `  t=${String(second + 1).padStart(4)}s ${second < PUBLISH_SECONDS ? `${second < SLOW_AT_SECONDS ? "fast" : "slow"} ` : "done"}` +
            `  backlog ${depth === undefined ? "     –" : count(depth).padStart(6)}` +
            `  replicas ${String(last?.replicas ?? "–").padStart(2)} (ready ${String(last?.ready ?? "–").padStart(2)})` +
            `  desired ${String(state.desiredReplicas).padStart(2)}` +
            `  required ${required === undefined ? "   –" : required.toFixed(1).padStart(4)}` +
            `  s ${handler === undefined ? "   –" : `${handler.toFixed(2)}s`}` +
            `  recent wait ${waits.length === 0 ? "–" : `${(quantile(waits, 0.5) / 1000).toFixed(1)}s`}`,
        );
      }
      if (drainedAt !== undefined && (last?.replicas ?? 0) <= 1 && state.desiredReplicas <= 1) break;
    }
    for (const sample of state?.samples ?? []) {
      if (sample.t >= started) {
        points.push({ t: (sample.t - started) / 1000, series: "replicas", value: sample.replicas, axis: "replicas" });
      }
    }
    await writeChart(join(out, "demo.png"), points, {
      title: `${label} (${BROKER}): backlog, replicas and the required replicas the rules compute`,
      series: [
        { name: "backlog", color: "#2563eb", axis: "messages" },
        { name: "replicas", color: "#dc2626", axis: "replicas" },
        { name: "required replicas", color: "#16a34a", axis: "replicas", dashed: true },
      ],
    });
    const drainTarget = stack.workerConfig.DRAIN_TARGET_SECONDS;
    return {
      label,
      drainTargetSeconds: drainTarget === undefined ? undefined : Number(drainTarget),
      published,
      processed: processedIds(recordFile),
      waitsMs: recordedWaits(recordFile),
      peak,
      replicaSeconds,
      drainedSeconds: drainedAt === undefined ? undefined : (drainedAt - started) / 1000,
      scaleEvents: (state?.decisions ?? [])
        .filter((decision) => decision.t >= started && decision.desiredReplicas !== decision.currentReplicas)
        .map((decision) => `${decision.currentReplicas}→${decision.desiredReplicas}`),
    };
  } finally {
    await stack.stop();
  }
}

function summary(runs: RunFigures[], targetSeconds: number): void {
  const seconds = (ms: number) => (Number.isNaN(ms) ? "–" : `${(ms / 1000).toFixed(1)} s`);
  const rows: [string, ...string[]][] = [
    ["", ...runs.map((run) => run.label)],
    ["p95 wait", ...runs.map((run) => seconds(quantile(run.waitsMs, 0.95)))],
    ["median wait", ...runs.map((run) => seconds(quantile(run.waitsMs, 0.5)))],
    [
      `waited longer than T = ${targetSeconds} s`,
      ...runs.map((run) =>
        run.waitsMs.length === 0
          ? "–"
          : `${((100 * run.waitsMs.filter((ms) => ms > targetSeconds * 1000).length) / run.waitsMs.length).toFixed(0)} %`,
      ),
    ],
    ["replica-seconds", ...runs.map((run) => count(Math.round(run.replicaSeconds)))],
    ["peak replicas", ...runs.map((run) => `${run.peak} (cap ${MAX_REPLICAS})`)],
    [
      "all processed at",
      ...runs.map((run) =>
        run.drainedSeconds === undefined ? "not before the deadline" : `${run.drainedSeconds.toFixed(0)} s`,
      ),
    ],
    [
      "messages processed",
      ...runs.map(
        (run) =>
          `${count(run.processed.distinct)} of ${count(run.published)} (${count(run.processed.records - run.processed.distinct)} twice)`,
      ),
    ],
  ];
  const widths = rows[0]!.map((_cell, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(`\nsummary (${BROKER}; the same inflow both times; waits as the workers recorded them per message)`);
  for (const row of rows)
    console.log(
      `  ${row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join("  ")
        .trimEnd()}`,
    );
  for (const run of runs) console.log(`  scale events, ${run.label}: ${run.scaleEvents.join(", ") || "none"}`);
  console.log(`  charts               .tmp/demo/depth-only/demo.png, .tmp/demo/drain-time/demo.png`);
}

export async function drainTimeDemo(): Promise<number> {
  const interrupted = watchInterrupt();
  console.log(
    `queuescale demo — BROKER=${BROKER}, SCALING=drain-time, k8s/overlays/${BROKER} (+ k8s/components/drain-time)`,
  );
  console.log(
    `  inflow ${RATE} messages/s for ${PUBLISH_SECONDS} s; the handler takes ${FAST_MS} ms, then ${SLOW_MS} ms from t=${SLOW_AT_SECONDS} s; ` +
      `${CONCURRENCY} at a time per worker`,
  );
  console.log(
    `  demo speed: HPA windows and periods ÷ ${TIME_SCALE}, maxReplicas capped at ${MAX_REPLICAS}; Prometheus scrapes ` +
      `and evaluates the shipped rules every ${SCRAPE_SECONDS} s (their windows as shipped)`,
  );
  const runs: RunFigures[] = [];
  for (const [label, components] of [
    ["depth only", []],
    ["drain time", ["drain-time"]],
  ] as const) {
    if (interrupted()) break;
    runs.push(await runOnce(label, [...components], interrupted));
  }
  const target = runs.find((run) => run.drainTargetSeconds !== undefined)?.drainTargetSeconds;
  if (runs.length > 0 && target !== undefined) summary(runs, target);
  console.log("everything stopped and cleaned up");
  return interrupted() ? 130 : 0;
}
