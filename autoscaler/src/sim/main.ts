#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, runMain } from "@queuescale/core";
import { stringify } from "csv-stringify/sync";
import { DEFAULT_FLAGS, type ControllerFlags } from "../engine/index.js";
import { describeWorkload, parseBurstFlag, parseHandlerFlag, parseRateFlag, summaryTable } from "./burst.js";
import { compare } from "./drain/compare.js";
import { DEFAULT_RULE_WINDOWS, type DrainModel, type HandlerSegment } from "./drain/model.js";
import { comparisonTable } from "./drain/report.js";
import { SCENARIOS, isScenario } from "./drain/scenarios.js";
import type { ChartPoint } from "./chart.js";
import { decide } from "./decide.js";
import { chartFormat, intFlag, numberFlag, readSource, readStdin } from "./input.js";
import { pickHpa } from "./manifest.js";
import { replay } from "./replay.js";
import { parseTrace } from "./trace.js";
import { depthTarget, runWithHpa, runWithOracle, type WorkloadModel } from "./workload.js";

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;
type FlagValues = Record<string, string | string[] | boolean | undefined>;

const PROGRAM = "queuescale-sim";

const USAGE = `Usage: ${PROGRAM} <command> [flags]

Runs the Kubernetes HPA (autoscaling/v2) algorithm without a cluster.

Commands:
  decide   one sync: JSON on stdin (hpa, now, currentReplicas, metrics, controller memory),
           prints {"desiredReplicas": N, "reason": "..."}
  replay   open loop: --hpa FILE|- --trace FILE.csv (t,value[,ready]); prints t,value,desired,replicas
           [--sync-period 15] [--initial-replicas N] [--name NAME] [--chart FILE.svg|.png]
  burst    closed loop: a queue drained by the replicas the HPA runs, against an instant oracle
           --hpa FILE|- (--burst N[@T] | --rate R@FROM-TO)... [--throughput 10] [--startup 30]
           [--scrape-interval 15] [--adapter-delay 5] [--sync-period 15] [--duration 900]
           [--initial-replicas N] [--name NAME] [--chart FILE.svg|.png] [--json]
  drain    closed loop with handler time and a staged metric pipeline: the fixed-target HPA, the
           drain-time HPA (required replicas next to depth) and an instant oracle, on p95 wait,
           share of time over T, replica-seconds and peak replicas
           --hpa FILE|- (--scenario burst|steady-bursts|slowdown | --burst N[@T] | --rate R@FROM-TO)...
           [--handler-seconds S[@FROM]]... [--concurrency 4] [--drain-target 60] [--floor-target N]
           [--startup 30] [--poll-interval 5] [--scrape-interval 10] [--rule-interval 10]
           [--adapter-delay 0] [--sync-period 15] [--handler-window ${DEFAULT_RULE_WINDOWS.handlerSeconds}] [--arrival-window ${DEFAULT_RULE_WINDOWS.arrivals}]
           [--duration 900] [--initial-replicas N] [--runs 20] [--seed 1] [--name NAME]
           [--chart FILE.svg|.png] [--json]

Controller flags (replay, burst): [--tolerance 0.1] [--downscale-stabilization 300]
See docs/autoscaler.md for the model and the exact differences from kube-controller-manager.`;

const CONTROLLER_OPTIONS = {
  tolerance: { type: "string" },
  "downscale-stabilization": { type: "string" },
  hpa: { type: "string" },
  name: { type: "string" },
  "sync-period": { type: "string" },
  "initial-replicas": { type: "string" },
  chart: { type: "string" },
} satisfies ParseArgsOptionsConfig;

function parseFlags(args: string[], options: ParseArgsOptionsConfig): FlagValues {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as FlagValues;
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    const flag = /'(--?[^' ]+)/.exec(message)?.[1] ?? "arguments";
    throw new ConfigError(flag, message);
  }
}

function controllerFlags(values: Record<string, unknown>): ControllerFlags {
  return {
    tolerance: numberFlag("--tolerance", values.tolerance as string | undefined, DEFAULT_FLAGS.tolerance),
    downscaleStabilizationSeconds: numberFlag(
      "--downscale-stabilization",
      values["downscale-stabilization"] as string | undefined,
      DEFAULT_FLAGS.downscaleStabilizationSeconds,
    ),
  };
}

async function loadHpa(values: Record<string, unknown>) {
  const path = values.hpa as string | undefined;
  if (path === undefined) throw new ConfigError("--hpa", "required (a manifest file, or - for stdin)");
  return pickHpa(await readSource("--hpa", path), values.name as string | undefined);
}

async function runDecide(args: string[]): Promise<void> {
  parseFlags(args, {});
  process.stdout.write(`${JSON.stringify(decide(await readStdin()))}\n`);
}

async function runReplay(args: string[]): Promise<void> {
  const values = parseFlags(args, { ...CONTROLLER_OPTIONS, trace: { type: "string" } });
  const chart = values.chart as string | undefined;
  if (chart !== undefined) chartFormat(chart);
  const tracePath = values.trace as string | undefined;
  if (tracePath === undefined) throw new ConfigError("--trace", "required (a CSV file with t,value)");
  if (tracePath === "-" && values.hpa === "-")
    throw new ConfigError("--trace", "only one of --hpa and --trace can be -");
  const spec = await loadHpa(values);
  const trace = parseTrace(await readSource("--trace", tracePath));
  const rows = replay(spec, trace, {
    syncPeriodSeconds: numberFlag("--sync-period", values["sync-period"] as string | undefined, 15, 1),
    initialReplicas: intFlag("--initial-replicas", values["initial-replicas"] as string | undefined, spec.minReplicas),
    flags: controllerFlags(values),
  });
  process.stdout.write(
    stringify(
      rows.map(({ t, value, desired, replicas }) => ({ t, value, desired, replicas })),
      { header: true, columns: ["t", "value", "desired", "replicas"] },
    ),
  );
  if (chart !== undefined) {
    const points: ChartPoint[] = rows.flatMap((row) => [
      { t: row.t, series: "depth", value: row.value, axis: "messages" as const },
      ...(row.desired === null ? [] : [{ t: row.t, series: "desired", value: row.desired, axis: "replicas" as const }]),
      { t: row.t, series: "replicas", value: row.replicas, axis: "replicas" as const },
    ]);
    const { writeChart } = await import("./chart.js");
    await writeChart(chart, points, {
      title: `replay of ${spec.name ?? "HPA"}`,
      series: [
        { name: "depth", color: "#4c78a8", axis: "messages" },
        { name: "desired", color: "#b0b0b0", axis: "replicas", dashed: true },
        { name: "replicas", color: "#e45756", axis: "replicas" },
      ],
    });
  }
}

async function runBurst(args: string[]): Promise<void> {
  const values = parseFlags(args, {
    ...CONTROLLER_OPTIONS,
    burst: { type: "string", multiple: true },
    rate: { type: "string", multiple: true },
    throughput: { type: "string" },
    startup: { type: "string" },
    "scrape-interval": { type: "string" },
    "adapter-delay": { type: "string" },
    duration: { type: "string" },
    json: { type: "boolean" },
  });
  const chart = values.chart as string | undefined;
  if (chart !== undefined) chartFormat(chart);
  const bursts = ((values.burst as string[] | undefined) ?? []).map(parseBurstFlag);
  const rates = ((values.rate as string[] | undefined) ?? []).map(parseRateFlag);
  if (bursts.length + rates.length === 0) throw new ConfigError("--burst", "give at least one --burst or --rate");
  const spec = await loadHpa(values);
  const target = depthTarget(spec);
  if (target === undefined || spec.metrics.some((metric) => metric.type === "Pods")) {
    throw new ConfigError(
      "--hpa",
      "burst feeds the queue depth to External/Object metrics; the HPA needs one with an AverageValue target and no Pods metric",
    );
  }
  const model: WorkloadModel = {
    bursts,
    rates,
    throughputPerReplica: numberFlag("--throughput", values.throughput as string | undefined, 10, Number.MIN_VALUE),
    startupSeconds: intFlag("--startup", values.startup as string | undefined, 30),
    scrapeIntervalSeconds: intFlag("--scrape-interval", values["scrape-interval"] as string | undefined, 15, 1),
    adapterDelaySeconds: intFlag("--adapter-delay", values["adapter-delay"] as string | undefined, 5),
    syncPeriodSeconds: intFlag("--sync-period", values["sync-period"] as string | undefined, 15, 1),
    durationSeconds: intFlag("--duration", values.duration as string | undefined, 900, 1),
    initialReplicas: intFlag(
      "--initial-replicas",
      values["initial-replicas"] as string | undefined,
      Math.max(1, spec.minReplicas),
    ),
  };
  const hpa = runWithHpa(model, spec, controllerFlags(values));
  const oracle = runWithOracle(model, spec, target);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ model, targetPerReplica: target, hpa: hpa.summary, oracle: oracle.summary }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(summaryTable(model, target, hpa.summary, oracle.summary));
  }
  if (chart !== undefined) {
    const points: ChartPoint[] = [];
    for (const point of hpa.timeline) {
      points.push({ t: point.t, series: "depth", value: point.depth, axis: "messages" });
      points.push({ t: point.t, series: "replicas", value: point.replicas, axis: "replicas" });
      points.push({ t: point.t, series: "ready", value: point.ready, axis: "replicas" });
    }
    for (const point of oracle.timeline) {
      points.push({ t: point.t, series: "oracle depth", value: point.depth, axis: "messages" });
      points.push({ t: point.t, series: "oracle replicas", value: point.replicas, axis: "replicas" });
    }
    const { writeChart } = await import("./chart.js");
    await writeChart(chart, points, {
      title: `burst against ${spec.name ?? "HPA"}`,
      series: [
        { name: "depth", color: "#4c78a8", axis: "messages" },
        { name: "oracle depth", color: "#9ecae9", axis: "messages" },
        { name: "replicas", color: "#e45756", axis: "replicas" },
        { name: "ready", color: "#f58518", axis: "replicas", dashed: true },
        { name: "oracle replicas", color: "#54a24b", axis: "replicas", dashed: true },
      ],
    });
  }
}

async function runDrain(args: string[]): Promise<void> {
  const values = parseFlags(args, {
    ...CONTROLLER_OPTIONS,
    scenario: { type: "string" },
    burst: { type: "string", multiple: true },
    rate: { type: "string", multiple: true },
    "handler-seconds": { type: "string", multiple: true },
    concurrency: { type: "string" },
    "drain-target": { type: "string" },
    "floor-target": { type: "string" },
    startup: { type: "string" },
    "poll-interval": { type: "string" },
    "scrape-interval": { type: "string" },
    "rule-interval": { type: "string" },
    "adapter-delay": { type: "string" },
    "handler-window": { type: "string" },
    "arrival-window": { type: "string" },
    duration: { type: "string" },
    runs: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
  });
  const text = (flag: string) => values[flag] as string | undefined;
  const chart = text("chart");
  if (chart !== undefined) chartFormat(chart);
  const scenarioName = text("scenario");
  if (scenarioName !== undefined && !isScenario(scenarioName)) {
    throw new ConfigError("--scenario", `${scenarioName}: use one of ${Object.keys(SCENARIOS).join(", ")}`);
  }
  const scenario = scenarioName === undefined ? undefined : SCENARIOS[scenarioName];
  let bursts = ((values.burst as string[] | undefined) ?? []).map(parseBurstFlag);
  let rates = ((values.rate as string[] | undefined) ?? []).map(parseRateFlag);
  let handler: HandlerSegment[] = ((values["handler-seconds"] as string[] | undefined) ?? []).map(parseHandlerFlag);
  if (scenario !== undefined) {
    if (bursts.length + rates.length + handler.length > 0) {
      throw new ConfigError(
        "--scenario",
        "a scenario sets the traffic and the handler: leave out --burst, --rate and --handler-seconds",
      );
    }
    ({ bursts, rates, handler } = scenario);
  }
  if (bursts.length + rates.length === 0)
    throw new ConfigError("--burst", "give --scenario, or at least one --burst or --rate");
  handler = [...handler].sort((a, b) => a.from - b.from);
  if (handler.length === 0) handler = [{ from: 0, secondsPerMessage: 0.4 }];
  if (handler[0]!.from !== 0)
    throw new ConfigError("--handler-seconds", "the first segment must start at 0 (give S or S@0)");
  const spec = await loadHpa(values);
  if (spec.metrics.some((metric) => metric.type === "Pods")) {
    throw new ConfigError(
      "--hpa",
      "drain feeds the depth and the required replicas to External/Object metrics; leave out Pods metrics",
    );
  }
  const pipeline = {
    pollIntervalSeconds: intFlag("--poll-interval", text("poll-interval"), 5, 1),
    scrapeIntervalSeconds: intFlag("--scrape-interval", text("scrape-interval"), 10, 1),
    ruleIntervalSeconds: intFlag("--rule-interval", text("rule-interval"), 10, 1),
    adapterDelaySeconds: intFlag("--adapter-delay", text("adapter-delay"), 0),
    syncPeriodSeconds: intFlag("--sync-period", text("sync-period"), 15, 1),
  };
  const model: DrainModel = {
    bursts,
    rates,
    handler,
    concurrency: intFlag("--concurrency", text("concurrency"), 4, 1),
    drainTargetSeconds: intFlag("--drain-target", text("drain-target"), 60, 1),
    startupSeconds: intFlag("--startup", text("startup"), 30),
    pipeline,
    windows: {
      handlerSeconds: intFlag("--handler-window", text("handler-window"), DEFAULT_RULE_WINDOWS.handlerSeconds, 1),
      arrivals: intFlag("--arrival-window", text("arrival-window"), DEFAULT_RULE_WINDOWS.arrivals, 1),
      lastKnownHandlerSeconds: DEFAULT_RULE_WINDOWS.lastKnownHandlerSeconds,
    },
    durationSeconds: intFlag("--duration", text("duration"), 900, 1),
    initialReplicas: intFlag("--initial-replicas", text("initial-replicas"), Math.max(1, spec.minReplicas)),
  };
  const floor = text("floor-target");
  let result;
  try {
    result = compare(model, spec, {
      ...(floor === undefined ? {} : { floorTarget: numberFlag("--floor-target", floor, 0, Number.MIN_VALUE) }),
      runs: intFlag("--runs", text("runs"), 20, 1),
      seed: intFlag("--seed", text("seed"), 1),
      flags: controllerFlags(values),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError("--hpa", error instanceof Error ? error.message : String(error));
  }
  const workload = scenario?.describe ?? describeWorkload(model);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ workload, ...result.comparison }, null, 2)}\n`);
  } else {
    process.stdout.write(comparisonTable({ workload, ...result.comparison }));
  }
  if (chart !== undefined) {
    const points: ChartPoint[] = [];
    for (const [name, run] of Object.entries(result.first)) {
      for (const point of run.timeline) {
        points.push({ t: point.t, series: `${name} depth`, value: point.depth, axis: "messages" });
        points.push({ t: point.t, series: `${name} replicas`, value: point.replicas, axis: "replicas" });
      }
    }
    const { writeChart } = await import("./chart.js");
    await writeChart(chart, points, {
      title: `fixed target vs drain time vs oracle (${spec.name ?? "HPA"}, first phase draw)`,
      series: [
        { name: "fixed depth", color: "#9ecae9", axis: "messages" },
        { name: "drain depth", color: "#ffbf79", axis: "messages" },
        { name: "oracle depth", color: "#88d27a", axis: "messages" },
        { name: "fixed replicas", color: "#4c78a8", axis: "replicas" },
        { name: "drain replicas", color: "#f58518", axis: "replicas" },
        { name: "oracle replicas", color: "#54a24b", axis: "replicas", dashed: true },
      ],
    });
  }
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case "decide":
      return runDecide(args);
    case "replay":
      return runReplay(args);
    case "burst":
      return runBurst(args);
    case "drain":
      return runDrain(args);
    case undefined:
      throw new ConfigError("command", "missing; use decide, replay, burst or drain (--help)");
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new ConfigError("command", `unknown command ${command}; use decide, replay, burst or drain (--help)`);
  }
}

runMain(PROGRAM, main);
