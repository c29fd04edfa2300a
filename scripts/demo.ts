/**
 * `make demo`: the main job end to end on one machine. Starts the local stack (exporter, producer,
 * local autoscaler running the HPA of k8s/overlays/$BROKER with real workers), publishes a burst
 * through the producer API, shows replicas rise and fall, and ends by itself. Ctrl-C stops
 * everything cleanly.
 */
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { drainTimeDemo } from "./demo-drain.js";
import { LocalStack, ROOT, drawChart, processedIds, type StatusState } from "./stack/index.js";
import { brokerSetting, positiveSetting, watchInterrupt } from "./stack/run-settings.js";

const BROKER = brokerSetting();
const BURST = positiveSetting("DEMO_MESSAGES", 5000);
const TIME_SCALE = positiveSetting("DEMO_TIME_SCALE", 10);
const MAX_REPLICAS = positiveSetting("DEMO_MAX_REPLICAS", 10);
const WORK_MS = positiveSetting("DEMO_WORK_MS", 200);
const CONCURRENCY = positiveSetting("DEMO_CONCURRENCY", 4);
const DEADLINE_MS = positiveSetting("DEMO_DEADLINE_SECONDS", 200) * 1000;
const OUT = join(ROOT, ".tmp", "demo");
/** Every handled message is recorded here (id, attempt, pid) so the summary can show none was lost. */
const RECORD_FILE = join(OUT, "processed.tsv");

const count = (value: number) => value.toLocaleString("en");

async function main(): Promise<number> {
  console.log(`queuescale demo — BROKER=${BROKER}, k8s/overlays/${BROKER}`);
  console.log(
    `  demo speed (labelled on the status page too): HPA windows and periods ÷ ${TIME_SCALE}, ` +
      `maxReplicas capped at ${MAX_REPLICAS}; each worker handles ${CONCURRENCY} messages at a time, ${WORK_MS} ms each`,
  );
  const stack = await LocalStack.start({
    broker: BROKER,
    out: OUT,
    timeScale: TIME_SCALE,
    maxReplicas: MAX_REPLICAS,
    workMs: WORK_MS,
    concurrency: CONCURRENCY,
    workerEnv: { WORK_RECORD_FILE: RECORD_FILE },
  });
  const interrupted = watchInterrupt();
  try {
    console.log(`  ${stack.plan.describe}`);
    console.log(`  status page ${stack.statusUrl}/   exporter ${stack.exporterUrl}/metrics   logs .tmp/demo/\n`);
    const started = Date.now();
    const accepted = await stack.publish(BURST);
    console.log(
      `  published ${count(accepted)} messages (confirmed) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );

    let peak = 0;
    let drainedAt: number | undefined;
    let sawBacklog = false;
    let previous: { t: number; value: number } | undefined;
    let state: StatusState | undefined;
    while (Date.now() - started < DEADLINE_MS && !interrupted()) {
      await delay(2000);
      state = await stack.state();
      const last = state.samples.at(-1);
      if (!last) continue;
      peak = Math.max(peak, last.replicas);
      const rate =
        previous && last.value !== null && last.t > previous.t
          ? Math.max(0, ((previous.value - last.value) * 1000) / (last.t - previous.t))
          : undefined;
      if (last.value !== null) previous = { t: last.t, value: last.value };
      console.log(
        `  t=${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s` +
          `  backlog ${last.value === null ? "   (none)" : count(last.value).padStart(9)}` +
          `  replicas ${String(last.replicas).padStart(2)} (ready ${String(last.ready).padStart(2)})` +
          `  desired ${String(state.desiredReplicas).padStart(2)}` +
          `  drain ${rate === undefined ? "   –" : rate.toFixed(0).padStart(4)} msg/s`,
      );
      if (last.value !== null && last.value > 0) sawBacklog = true;
      if (sawBacklog && drainedAt === undefined && last.value === 0) drainedAt = Date.now();
      if (drainedAt !== undefined && last.replicas <= 1 && state.desiredReplicas <= 1) break;
    }
    if (state) {
      await drawChart(
        state,
        started,
        `queuescale demo (${BROKER}): backlog and worker replicas`,
        join(OUT, "demo.png"),
      );
      const scaleEvents = state.decisions
        .filter((decision) => decision.desiredReplicas !== decision.currentReplicas)
        .map((decision) => `${decision.currentReplicas}→${decision.desiredReplicas}`);
      console.log("\nsummary");
      console.log(`  messages published   ${count(accepted)}`);
      console.log(
        `  time to drain        ${drainedAt ? `${((drainedAt - started) / 1000).toFixed(0)} s` : "not drained before the deadline"}`,
      );
      const processed = processedIds(RECORD_FILE);
      console.log(
        `  messages processed   ${count(processed.distinct)} distinct (${count(processed.records - processed.distinct)} delivered more than once)`,
      );
      console.log(`  peak replicas        ${peak} (cap ${MAX_REPLICAS})`);
      console.log(`  scale events         ${scaleEvents.join(", ") || "none"}`);
      console.log(`  chart                .tmp/demo/demo.png`);
      console.log(`  logs                 .tmp/demo/ (one per worker in .tmp/demo/workers/)`);
    }
    return interrupted() ? 130 : 0;
  } finally {
    await stack.stop();
    console.log("everything stopped and cleaned up");
  }
}

const SCALING = process.env.SCALING ?? "depth";
if (SCALING !== "depth" && SCALING !== "drain-time") {
  console.error(`demo: invalid SCALING: ${SCALING}; use depth (the default) or drain-time`);
  process.exit(2);
}

(SCALING === "drain-time" ? drainTimeDemo() : main()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
