/**
 * `make e2e`: a real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-
 * manager, kube-scheduler) and a real node (kubelet, containerd, runc, a CNI bridge of the run's
 * own) running the images `make images` built; Prometheus with Kubernetes service discovery and
 * Prometheus Adapter installed from its Helm chart with the project's values, or (--engine keda)
 * KEDA with the broker's ScaledObject component in its place. For each broker overlay, every pod
 * must become Ready, and the HPA controller must scale the worker Deployment on the exporter pods'
 * numbers: quickly up, not at all during a broker outage, slowly down. Exits non-zero when an
 * expectation is not met. Must run as root (it creates a bridge and runs containerd).
 *
 * Usage: npx tsx e2e/run.ts [--broker rabbitmq|nats]... [--engine adapter|keda] [--scenario all|drain-time] [--keep] [--tag dev]
 *   --engine    who serves external.metrics.k8s.io and makes the HPA (ENGINE; adapter by default)
 *   --scenario  all (default): the broker scenarios, then drain-time scaling (e2e/drain-time.ts);
 *               drain-time: only the latter, after the overlays are up (adapter engine only)
 *   --keep      leave the temporary directory (certificates, logs, etcd data) for a look afterwards
 *   --tag       the tag of the images `make images` built (TAG)
 */
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { nats } from "./brokers/nats.js";
import { rabbitmq } from "./brokers/rabbitmq.js";
import type { BrokerModule } from "./brokers/types.js";
import { ADAPTER_CHART, ADAPTER_SERVICE_DNS, renderAdapterChart, startAdapter } from "./lib/adapter.js";
import { ApiClient } from "./lib/api.js";
import { startControlPlane } from "./lib/cluster.js";
import { buildTestImages, checkImages, COMPONENTS, imageName, saveImages, workerHandlerImage } from "./lib/images.js";
import { KEDA_CONFIG, KEDA_SERVICE_DNS, startKeda } from "./lib/keda.js";
import { PAUSE_IMAGE, RealNode } from "./lib/node.js";
import { ENGINES, type Engine } from "./lib/overlay.js";
import { missingTools, NODE_COMMANDS } from "./lib/paths.js";
import { createPki } from "./lib/pki.js";
import { ProcessGroup } from "./lib/processes.js";
import { Prometheus } from "./lib/prometheus.js";
import { Checks } from "./lib/timeline.js";
import { DrainTimeScenario } from "./drain-time.js";
import { BrokerScenario, type ScenarioEnvironment } from "./scenario.js";

const MODULES: Record<string, BrokerModule> = { rabbitmq, nats };

function log(message: string): void {
  process.stdout.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function preflight(engine: Engine): Promise<string | undefined> {
  const missing = await missingTools(engine);
  if (missing.length > 0) return `missing ${missing.join(", ")} in .tools/bin: run scripts/e2e-tools.sh`;
  for (const path of engine === "keda" ? [ADAPTER_CHART, KEDA_CONFIG] : [ADAPTER_CHART]) {
    try {
      await access(path);
    } catch {
      return `missing ${path}: run scripts/e2e-tools.sh`;
    }
  }
  const path = (process.env.PATH ?? "").split(":");
  for (const command of NODE_COMMANDS) {
    const found = await Promise.any(path.map((dir) => access(join(dir, command)).then(() => true))).catch(() => false);
    if (!found) return `${command} is not on PATH: run scripts/image-tools.sh`;
  }
  if (process.getuid?.() !== 0) return "the node (bridge, containerd, kubelet) needs root";
  return undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      broker: { type: "string", multiple: true },
      engine: { type: "string", default: "adapter" },
      keep: { type: "boolean", default: false },
      tag: { type: "string", default: "dev" },
      scenario: { type: "string", default: "all" },
    },
  });
  if (values.scenario !== "all" && values.scenario !== "drain-time") {
    process.stderr.write(`e2e: unknown --scenario ${values.scenario} (all or drain-time)\n`);
    return 2;
  }
  const brokers = values.broker ?? Object.keys(MODULES);
  const unknown = brokers.filter((broker) => !(broker in MODULES));
  if (unknown.length > 0) {
    process.stderr.write(`e2e: unknown --broker ${unknown.join(", ")} (one of ${Object.keys(MODULES).join(", ")})\n`);
    return 2;
  }
  if (!(ENGINES as readonly string[]).includes(values.engine)) {
    process.stderr.write(`e2e: unknown --engine ${values.engine} (${ENGINES.join(" or ")})\n`);
    return 2;
  }
  const engine = values.engine as Engine;
  if (engine !== "adapter" && values.scenario !== "all") {
    process.stderr.write(`e2e: --scenario ${values.scenario} runs with --engine adapter only\n`);
    return 2;
  }
  const problem = await preflight(engine);
  if (problem) {
    process.stderr.write(`e2e: ${problem}\n`);
    return 2;
  }

  const startedAt = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "queuescale-e2e-"));
  const processes = new ProcessGroup(dir);
  const checks = new Checks();
  const scenarios: BrokerScenario[] = [];
  const drainTimes: DrainTimeScenario[] = [];
  let scenarioEnv: ScenarioEnvironment;
  let api: ApiClient | undefined;
  let node: RealNode | undefined;
  let tornDown = false;

  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    for (const scenario of scenarios) await scenario.dispose();
    const problems = (await node?.cleanup()) ?? [];
    for (const problem of problems) log(`cleanup: ${problem}`);
    api?.close();
    await processes.stopAll();
    const left = node?.leftovers() ?? [];
    if (left.length > 0) log(`left behind: ${left.join(", ")}`);
    if (values.keep) log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: tearing down`);
    void teardown().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // Should the run die some other way, no control-plane process may outlive it.
  process.once("exit", () => {
    if (node) node.cleanupNow(() => processes.killAllNow());
    else processes.killAllNow();
  });

  let failure: unknown;
  const phases: [string, number][] = [];
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const began = Date.now();
    log(`${name}…`);
    const result = await work();
    phases.push([name, (Date.now() - began) / 1000]);
    return result;
  };
  try {
    const pki = await phase("certificates", () =>
      createPki(join(dir, "pki"), { adapterServiceDns: ADAPTER_SERVICE_DNS, kedaServiceDns: KEDA_SERVICE_DNS }),
    );
    const archive = join(dir, "images.tar");
    await phase("image checks, test images, image archive", async () => {
      const { results, sizes } = await checkImages(values.tag);
      for (const result of results)
        checks.record("images", `${result.image} ${result.check}`, result.ok, result.detail);
      for (const [image, bytes] of sizes) log(`  ${image} ${(bytes / 1e6).toFixed(0)} MB`);
      await buildTestImages(values.tag, PAUSE_IMAGE);
      await saveImages(archive, [
        ...COMPONENTS.filter((c) => c !== "worker").map((c) => imageName(c, values.tag)),
        workerHandlerImage(values.tag),
        PAUSE_IMAGE,
      ]);
    });
    const cluster = await phase("control plane (etcd, apiserver, controller-manager, scheduler)", () =>
      startControlPlane(join(dir, "cluster"), processes, pki),
    );
    api = new ApiClient(cluster.apiserverUrl, pki);
    const namespaces = brokers.map((broker) => `e2e-${broker}`);
    node = await phase("node (bridge, containerd + image import, kubelet) Ready", () =>
      RealNode.start({ dir: join(dir, "node"), processes, pki, cluster, imageArchives: [archive], namespaces }),
    );
    const realNode = node;
    const prometheus = await phase("prometheus (kubernetes_sd_configs)", () =>
      Prometheus.start(join(dir, "prometheus"), processes, cluster.kubeconfig),
    );
    if (engine === "keda") {
      // Before the overlays: their ScaledObjects need KEDA's CRDs.
      await phase("KEDA (CRDs, RBAC, operator, metrics API server as v1beta1.external.metrics.k8s.io)", () =>
        startKeda(join(dir, "keda"), processes, pki, cluster),
      );
    }
    scenarioEnv = { dir, processes, cluster, api, prometheus, node: realNode, checks, engine };
    for (const broker of brokers) {
      const module = MODULES[broker];
      if (module) scenarios.push(new BrokerScenario(module, scenarioEnv));
    }
    await phase("broker fixtures, overlays applied, every pod Ready, exporter pods scraped", async () => {
      await Promise.all(scenarios.map((scenario) => scenario.prepare()));
      for (const scenario of scenarios) await scenario.waitForSeries();
    });
    if (engine === "adapter") {
      const rendered = await phase("helm template prometheus-adapter", () => renderAdapterChart(dir));
      checks.record(
        "adapter",
        "the chart with values.yaml renders the rules of config.yaml",
        rendered.sameRulesAsConfigYaml,
        rendered.sameRulesAsConfigYaml ? "identical rules" : `differ: compare ${rendered.configPath}`,
      );
      // After the series exist: the adapter learns which metrics there are when it lists series.
      await phase("prometheus-adapter registered as v1beta1.external.metrics.k8s.io", () =>
        startAdapter(processes, pki, cluster, prometheus.url, rendered),
      );
    }
    await phase(`scenarios (${scenarios.map((s) => s.name).join(", ")}, side by side)`, async () => {
      const outcomes = await Promise.allSettled(
        scenarios.map(async (scenario) => {
          // The closed loop and drain-time recreate the project's HPA; under KEDA the ScaledObject owns it.
          if (values.scenario === "all") {
            await scenario.run();
            if (engine === "adapter") await scenario.closedLoop();
            else await scenario.externalScaler();
          }
          if (engine !== "adapter") return;
          const drainTime = new DrainTimeScenario(scenario, scenarioEnv);
          drainTimes.push(drainTime);
          await drainTime.run();
        }),
      );
      outcomes.forEach((outcome, index) => {
        if (outcome.status === "rejected") {
          const scenario = scenarios[index]!;
          const reason = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
          // A failed check is already recorded; anything else (a time-out) is recorded here.
          if (!checks.results.some((result) => !result.ok && result.scenario === scenario.name)) {
            checks.record(scenario.name, "scenario completes", false, reason);
          }
        }
      });
    });
  } catch (error) {
    failure = error;
    checks.record(
      "run",
      "control plane and monitoring start",
      false,
      error instanceof Error ? error.message : String(error),
    );
  }

  const crashed = processes.crashed();
  for (const scenario of [...scenarios, ...drainTimes]) process.stdout.write(`\n${scenario.timeline.render()}\n`);
  const comparisons = scenarios.map((scenario) => scenario.comparison).filter(Boolean);
  if (comparisons.length > 0) process.stdout.write(`\nSimulator against reality\n${comparisons.join("\n\n")}\n`);
  if (scenarios.length > 0) process.stdout.write(`\n${reactionTimes(engine, scenarios)}\n`);
  process.stdout.write("\nFigures\n");
  for (const [name, secondsTaken] of phases) process.stdout.write(`  ${name}: ${secondsTaken.toFixed(1)} s\n`);
  for (const scenario of [...scenarios, ...drainTimes]) {
    for (const [figure, value] of Object.entries(scenario.figures)) {
      process.stdout.write(`  ${scenario.name} ${figure}: ${value}${figure.endsWith("Seconds") ? " s" : ""}\n`);
    }
  }
  if (checks.failed > 0 || failure || crashed.length > 0) {
    for (const name of crashed) checks.record("run", `${name} keeps running`, false, "exited during the run");
    const provider = engine === "keda" ? ["keda-operator", "keda-metrics-apiserver"] : ["prometheus-adapter"];
    await printLogTails(processes, [...crashed, "kube-controller-manager", ...provider, "kubelet"]);
  }
  process.stdout.write(`\n${checks.render()}\n`);
  await teardown();
  process.stdout.write(`\nwall time ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`);
  process.stdout.write(`e2e: ${checks.passed} passed, ${checks.failed} failed\n`);
  return checks.failed === 0 ? 0 : 1;
}

/**
 * Publish → first scale-up of each path this run measured, side by side: the HPA's first step above
 * one replica (the adapter's, or KEDA's with the Prometheus trigger) and, with KEDA, the external
 * scaler's activation from 0 and its HPA's first step above one.
 */
function reactionTimes(engine: Engine, scenarios: readonly BrokerScenario[]): string {
  const cell = (value: number | undefined) => (value === undefined ? "-" : `${value} s`).padStart(14);
  const lines = [
    "Publish → first scale-up (seconds)",
    `${"".padEnd(10)}${(engine === "adapter" ? "adapter" : "KEDA+Prom").padStart(14)}${
      engine === "keda" ? `${"external 0→1".padStart(14)}${"external 1→n".padStart(14)}${"back to 0".padStart(14)}` : ""
    }`,
  ];
  for (const scenario of scenarios) {
    const external = scenario.externalFigures;
    lines.push(
      `${scenario.name.padEnd(10)}${cell(scenario.figures.publishToFirstScaleUpSeconds)}${
        engine === "keda"
          ? `${cell(external?.publishToActivationSeconds)}${cell(external?.publishToFirstHpaStepSeconds)}${cell(external?.purgeToZeroSeconds)}`
          : ""
      }`,
    );
  }
  return lines.join("\n");
}

async function printLogTails(processes: ProcessGroup, names: readonly string[]): Promise<void> {
  for (const name of new Set(names)) {
    try {
      const all = (await readFile(processes.logPath(name), "utf8")).trimEnd().split("\n");
      // A Go panic's message sits above its stack: show it rather than the stack's last frames.
      const panicAt = all.findIndex((line) => line.startsWith("panic:"));
      const lines = panicAt >= 0 ? all.slice(panicAt, panicAt + 15) : all.slice(-15);
      process.stdout.write(`\n── last lines of ${name}.log ──\n${lines.join("\n")}\n`);
    } catch {
      // Never started.
    }
  }
}

process.exit(await main());
