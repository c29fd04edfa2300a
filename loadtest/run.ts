/**
 * `make loadtest`: k6 against the producer API of the local stack (exporter, producer, local
 * autoscaler with real workers, real broker), then the proof that the load was handled: every
 * accepted message processed (distinct ids in the workers' record file) and the backlog back to 0.
 * Prints the k6 summary, time to drain, peak replicas and the replica timeline (and a chart).
 *
 *   SCENARIO=burst|ramp|soak|smoke  BROKER=rabbitmq|nats  (k6 knobs: see loadtest/scenarios/producer.js)
 *   LOADTEST_WORK_MS (default 20), LOADTEST_CONCURRENCY (8), LOADTEST_MAX_REPLICAS (10),
 *   LOADTEST_TIME_SCALE (10), LOADTEST_DRAIN_SECONDS (600): how long the backlog may take to drain.
 */
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { LocalStack, ROOT, drawChart, processedIds } from "../scripts/stack/index.js";
import { brokerSetting, positiveSetting, watchInterrupt } from "../scripts/stack/run-settings.js";
import { k6Binary, runK6, type K6Result } from "./k6.js";

export const SCENARIOS = ["burst", "ramp", "soak", "smoke"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface LoadTestOptions {
  scenario: Scenario;
  broker: string;
  /** Folder for the stack's logs, the record file, the k6 summary and the chart; emptied first. */
  out: string;
  workMs: number;
  concurrency: number;
  maxReplicas: number;
  timeScale: number;
  drainSeconds: number;
  /** Extra k6 settings (`-e`), e.g. SMOKE_DURATION. */
  k6Env?: Record<string, string>;
  output: "inherit" | ((chunk: string) => void);
  /** Set by the caller on Ctrl-C: the drain wait stops early (the stack is still stopped cleanly). */
  interrupted?: () => boolean;
  /** Broker objects of this run's own instead of the overlay's names (tests). */
  uniqueSuffix?: string;
}

export interface LoadTestResult {
  k6: K6Result;
  /** Distinct message ids the workers recorded as handled. */
  processed: number;
  /** Deliveries beyond the first of the same id (at-least-once redeliveries). */
  redelivered: number;
  /** Accepted messages that were not processed before the drain deadline. */
  lost: number;
  finalBacklog: number | null;
  /** From the end of the k6 run to the backlog at 0 with every accepted message processed. */
  drainSeconds: number | undefined;
  peakReplicas: number;
  /** Replica changes the autoscaler made, `from→to` at seconds since the k6 run started. */
  timeline: { t: number; from: number; to: number }[];
  chartFile: string;
}

export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestResult> {
  const recordFile = join(options.out, "processed.tsv");
  const stack = await LocalStack.start({
    broker: options.broker,
    out: options.out,
    timeScale: options.timeScale,
    maxReplicas: options.maxReplicas,
    workMs: options.workMs,
    concurrency: options.concurrency,
    workerEnv: {
      WORK_RECORD_FILE: recordFile,
      // The worker of this tree, named outright rather than resolved through the package's exports.
      WORKER_COMMAND: `${process.execPath} ${join(ROOT, "worker", "dist", "main.js")}`,
    },
    ...(options.uniqueSuffix ? { uniqueSuffix: options.uniqueSuffix } : {}),
  });
  try {
    const started = Date.now();
    const k6 = await runK6({
      k6: k6Binary(ROOT),
      script: join(ROOT, "loadtest", "scenarios", "producer.js"),
      env: {
        SCENARIO: options.scenario,
        PRODUCER_URL: stack.producerUrl,
        QUEUE: stack.plan.queue,
        ...options.k6Env,
      },
      summaryFile: join(options.out, "k6-summary.json"),
      output: options.output,
    });
    const publishedAt = Date.now();

    // Drained: the backlog reads 0 and every accepted message has been handled at least once.
    let state = await stack.state();
    let drainedAt: number | undefined;
    const deadline = publishedAt + options.drainSeconds * 1000;
    while (Date.now() < deadline && !options.interrupted?.()) {
      state = await stack.state();
      const backlog = state.samples.at(-1)?.value;
      if (backlog === 0 && processedIds(recordFile).distinct >= k6.accepted) {
        drainedAt = Date.now();
        break;
      }
      await delay(500);
    }
    state = await stack.state();
    const { distinct, records } = processedIds(recordFile);
    const timeline = state.decisions
      .filter((decision) => decision.t >= started && decision.desiredReplicas !== decision.currentReplicas)
      .map((decision) => ({
        t: (decision.t - started) / 1000,
        from: decision.currentReplicas,
        to: decision.desiredReplicas,
      }));
    const peakReplicas = Math.max(
      0,
      ...state.samples.filter((sample) => sample.t >= started).map((sample) => sample.replicas),
    );
    const chartFile = join(options.out, `${options.scenario}-${options.broker}.png`);
    await drawChart(
      state,
      started,
      `queuescale load test (${options.scenario}, ${options.broker}): backlog and worker replicas`,
      chartFile,
    );
    return {
      k6,
      processed: distinct,
      redelivered: records - distinct,
      lost: Math.max(0, k6.accepted - distinct),
      finalBacklog: state.samples.at(-1)?.value ?? null,
      drainSeconds: drainedAt === undefined ? undefined : (drainedAt - publishedAt) / 1000,
      peakReplicas,
      timeline,
      chartFile,
    };
  } finally {
    await stack.stop();
  }
}

/** The load test passed: thresholds held, nothing refused, every accepted message processed, queue empty. */
export function passed(result: LoadTestResult): boolean {
  return (
    result.k6.thresholdsPassed &&
    result.k6.accepted > 0 &&
    result.k6.refused === 0 &&
    result.lost === 0 &&
    result.finalBacklog === 0
  );
}

async function main(): Promise<number> {
  const scenario = (process.env.SCENARIO || "burst") as Scenario;
  if (!SCENARIOS.includes(scenario)) {
    console.error(`SCENARIO must be one of ${SCENARIOS.join(", ")}, got "${scenario}"`);
    return 2;
  }
  const broker = brokerSetting();
  const out = join(ROOT, ".tmp", "loadtest");
  const interrupted = watchInterrupt();
  const options: LoadTestOptions = {
    scenario,
    broker,
    out,
    workMs: positiveSetting("LOADTEST_WORK_MS", 20),
    concurrency: positiveSetting("LOADTEST_CONCURRENCY", 8),
    maxReplicas: positiveSetting("LOADTEST_MAX_REPLICAS", 10),
    timeScale: positiveSetting("LOADTEST_TIME_SCALE", 10),
    drainSeconds: positiveSetting("LOADTEST_DRAIN_SECONDS", 600),
    output: "inherit",
    interrupted,
  };
  console.log(
    `queuescale load test — SCENARIO=${scenario} BROKER=${broker}: k6 against the producer API; workers handle ` +
      `${options.concurrency} messages at a time, ${options.workMs} ms each, up to ${options.maxReplicas} replicas ` +
      `(HPA windows ÷ ${options.timeScale})`,
  );
  const result = await runLoadTest(options);
  const count = (value: number) => value.toLocaleString("en");
  const { k6 } = result;
  console.log("\nload test summary");
  console.log(`  thresholds           ${k6.thresholdsPassed ? "passed" : "CROSSED (see the k6 summary above)"}`);
  console.log(
    `  requests             ${count(k6.requests)} in ${k6.durationSeconds.toFixed(1)} s, ` +
      `${(k6.failedRate * 100).toFixed(2)}% failed, p95 ${k6.p95Ms.toFixed(0)} ms, p99 ${k6.p99Ms.toFixed(0)} ms`,
  );
  console.log(`  messages accepted    ${count(k6.accepted)} (refused ${count(k6.refused)})`);
  console.log(
    `  messages processed   ${count(result.processed)} distinct (${count(result.redelivered)} redelivered), ` +
      `lost ${count(result.lost)}`,
  );
  console.log(`  final backlog        ${result.finalBacklog ?? "(no reading)"}`);
  console.log(
    `  time to drain        ${result.drainSeconds === undefined ? "not drained before the deadline" : `${result.drainSeconds.toFixed(1)} s after the last request`}`,
  );
  console.log(`  peak replicas        ${result.peakReplicas} (cap ${options.maxReplicas})`);
  console.log(
    `  replica timeline     ${result.timeline.map((step) => `${step.t.toFixed(0)}s ${step.from}→${step.to}`).join(", ") || "no change"}`,
  );
  console.log(`  chart                ${result.chartFile.slice(ROOT.length + 1)}`);
  console.log(`  logs                 .tmp/loadtest/`);
  if (interrupted()) return 130;
  return passed(result) ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`load test failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
