/**
 * The whole queuescale pipeline on one machine, as `make demo` and `make loadtest` run it: the
 * exporter, the local autoscaler (the Kubernetes HPA algorithm reading the HPA of
 * k8s/overlays/<broker>) with real worker processes, and the producer API, against the local broker.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { freePort, waitFor } from "@queuescale/core";
import { PrometheusServer } from "@queuescale/test-support/prometheus-server";
import { writeChart, type ChartPoint } from "../../autoscaler/src/sim/chart.js";
import { BROKER_PLANS, type BrokerPlan, type Selector } from "./brokers.js";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface StackOptions {
  broker: string;
  /** Folder for logs, the rendered HPA and worker logs; emptied first. */
  out: string;
  /** Divides the HPA's windows and periods (demo speed); 1 keeps them as deployed. */
  timeScale: number;
  /** Caps the HPA's maxReplicas: a laptop runs fewer workers than a cluster. */
  maxReplicas: number;
  /** Simulated work per message and messages handled at once per worker. */
  workMs: number;
  concurrency: number;
  /** Extra environment for the workers (e.g. WORK_RECORD_FILE). */
  workerEnv?: Record<string, string>;
  /**
   * Use broker objects of this run's own (a vhost or stream with this suffix) instead of the
   * overlay's names, so tests never share a queue with a demo or another run.
   */
  uniqueSuffix?: string;
  /** Kustomize components of k8s/components added to the overlay (e.g. drain-time). */
  components?: string[];
  /**
   * Run a real Prometheus that scrapes the exporter and the workers and evaluates the shipped
   * recording rules; the autoscaler then reads every External metric through the shipped adapter
   * rules, as in a cluster.
   */
  prometheus?: { scrapeIntervalSeconds: number; evaluationIntervalSeconds: number };
}

export interface StatusSample {
  t: number;
  value: number | null;
  replicas: number;
  ready: number;
}

export interface StatusState {
  desiredReplicas: number;
  samples: StatusSample[];
  decisions: { t: number; value: number | null; desiredReplicas: number; currentReplicas: number; reason: string }[];
  workers: { id: string; state: string }[];
}

type Manifest = {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  spec?: {
    metrics?: { type?: string; external?: { metric?: { name?: string; selector?: { matchLabels?: Selector } } } }[];
  };
};

/**
 * The overlay's HPA: its depth metric's selector names the queue or consumer to use. The worker
 * ConfigMap's settings come along (DRAIN_TARGET_SECONDS when a component sets it).
 */
function overlayObjects(
  manifests: string,
  broker: string,
): { hpa: Manifest; selector: Selector; workerConfig: Record<string, string> } {
  const objects = parseAllDocuments(manifests).map((document) => document.toJS() as Manifest | null);
  const hpa = objects.find((object) => object?.kind === "HorizontalPodAutoscaler");
  const external = (hpa?.spec?.metrics ?? []).filter((metric) => metric.type === "External");
  const depth = external.find((metric) => metric.external?.metric?.name === "queuescale_queue_depth") ?? external[0];
  const selector = depth?.external?.metric?.selector?.matchLabels;
  if (!hpa || !selector) throw new Error(`k8s/overlays/${broker} has no HPA with an External metric selector`);
  const config = objects.find(
    (object) => object?.kind === "ConfigMap" && object.metadata?.name?.startsWith("queuescale-worker"),
  );
  return { hpa, selector, workerConfig: config?.data ?? {} };
}

/** `kubectl kustomize` of the overlay, with components added through a kustomization of our own. */
function renderOverlay(broker: string, components: readonly string[], out: string): string {
  const overlay = join(ROOT, "k8s", "overlays", broker);
  if (components.length === 0) return execFileSync("kubectl", ["kustomize", overlay], { encoding: "utf8" });
  const dir = join(out, "kustomize");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "kustomization.yaml"),
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [relative(dir, overlay)],
      components: components.map((name) => relative(dir, join(ROOT, "k8s", "components", name))),
    }),
  );
  return execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
}

export class LocalStack {
  private readonly children: { name: string; process: ChildProcess }[] = [];
  private stopping = false;
  private stopped: Promise<void> | undefined;
  producerUrl = "";
  statusUrl = "";
  exporterUrl = "";
  readonly plan: BrokerPlan;
  readonly hpaPath: string;
  /** The HPA as the stack runs it (selectors pointing at this run's objects). */
  readonly hpa: Manifest;
  /** The worker ConfigMap's settings the overlay and its components set. */
  readonly workerConfig: Record<string, string>;
  prometheus: PrometheusServer | undefined;

  private constructor(private readonly options: StackOptions) {
    const makePlan = BROKER_PLANS[options.broker];
    if (!makePlan) throw new Error(`BROKER must be one of ${Object.keys(BROKER_PLANS).join(", ")}`);
    rmSync(options.out, { recursive: true, force: true });
    mkdirSync(options.out, { recursive: true });
    const manifests = renderOverlay(options.broker, options.components ?? [], options.out);
    const { hpa, selector, workerConfig } = overlayObjects(manifests, options.broker);
    this.plan = makePlan(selector, options.uniqueSuffix);
    this.hpa = hpa;
    this.workerConfig = workerConfig;
    // The overlay's HPA as deployed, every External metric selecting the objects this run really uses.
    for (const metric of hpa.spec!.metrics!) {
      if (metric.type === "External") metric.external!.metric!.selector = { matchLabels: this.plan.selector };
    }
    this.hpaPath = join(options.out, "hpa.yaml");
    writeFileSync(this.hpaPath, stringify(hpa));
  }

  /** Starts everything and resolves once the producer accepts messages and a worker is ready. */
  static async start(options: StackOptions): Promise<LocalStack> {
    const stack = new LocalStack(options);
    try {
      await stack.startProcesses();
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  private spawnProcess(name: string, script: string, env: Record<string, string>): void {
    const log = createWriteStream(join(this.options.out, `${name}.log`));
    const child = spawn(process.execPath, [join(ROOT, script)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.children.push({ name, process: child });
    child.once("exit", (code, signal) => {
      if (!this.stopping) {
        console.error(`  ! ${name} exited (${signal ?? `code ${code}`}); see ${join(this.options.out, `${name}.log`)}`);
      }
    });
  }

  private async startProcesses(): Promise<void> {
    const { options, plan } = this;
    await plan.setUp();
    const ports = { exporter: await freePort(9422), producer: await freePort(8080), status: await freePort(9430) };
    this.exporterUrl = `http://127.0.0.1:${ports.exporter}`;
    this.statusUrl = `http://127.0.0.1:${ports.status}`;
    this.producerUrl = `http://127.0.0.1:${ports.producer}`;
    this.spawnProcess("exporter", "exporter/dist/main.js", {
      ...plan.env,
      LISTEN_ADDRESS: `127.0.0.1:${ports.exporter}`,
      POLL_INTERVAL_SECONDS: "1",
    });
    const targetsFile = join(options.out, "worker-targets.json");
    if (options.prometheus) this.prometheus = await this.startPrometheus(ports.exporter, targetsFile);
    const drainTarget = this.workerConfig.DRAIN_TARGET_SECONDS;
    this.spawnProcess("local-autoscaler", "autoscaler/dist/local/main.js", {
      ...plan.env,
      HPA: this.hpaPath,
      METRICS_URL: `${this.exporterUrl}/metrics`,
      ...(this.prometheus
        ? {
            PROMETHEUS_URL: this.prometheus.baseUrl,
            ADAPTER_CONFIG: join(ROOT, "monitoring", "prometheus-adapter", "config.yaml"),
            NAMESPACE: this.hpa.metadata?.namespace ?? "default",
            TARGETS_FILE: targetsFile,
          }
        : {}),
      ...(drainTarget === undefined ? {} : { DRAIN_TARGET_SECONDS: drainTarget }),
      TIME_SCALE: String(options.timeScale),
      MAX_REPLICAS: String(options.maxReplicas),
      STATUS_ADDRESS: `127.0.0.1:${ports.status}`,
      LOG_DIR: join(options.out, "workers"),
      // Worker settings: every worker process inherits them.
      HANDLER: join(ROOT, "worker", "examples", "simulated-work.js"),
      WORK_MS: String(options.workMs),
      CONCURRENCY: String(options.concurrency),
      DECLARE: "true",
      DEPTH_POLL_INTERVAL_SECONDS: "1",
      ...options.workerEnv,
    });
    await waitFor(async () => ((await fetch(`${this.statusUrl}/api/state`)).ok ? true : undefined), {
      what: "the status page",
      // Loading the autoscaler (express, the engine, zod) takes seconds on a busy machine.
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    // The first worker declares the queue or stream (DECLARE=true) before anything is published.
    await waitFor(async () => ((await this.state()).workers.some((w) => w.state === "ready") ? true : undefined), {
      what: "the first worker",
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    this.spawnProcess("producer", "producer/dist/main.js", {
      ...plan.env,
      LISTEN_ADDRESS: `127.0.0.1:${ports.producer}`,
    });
    await waitFor(async () => ((await fetch(`${this.producerUrl}/readyz`)).ok ? true : undefined), {
      what: "the producer",
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  }

  /**
   * Prometheus with the shipped recording rules, scraping the exporter and (through the file the
   * local autoscaler keeps) every worker, with the `namespace` label the adapter's queries filter on.
   */
  private async startPrometheus(exporterPort: number, targetsFile: string): Promise<PrometheusServer> {
    const { scrapeIntervalSeconds, evaluationIntervalSeconds } = this.options.prometheus!;
    const namespace = this.hpa.metadata?.namespace ?? "default";
    return PrometheusServer.start({
      global: {
        scrape_interval: `${scrapeIntervalSeconds}s`,
        evaluation_interval: `${evaluationIntervalSeconds}s`,
      },
      rule_files: [join(ROOT, "monitoring", "rules", "queuescale.rules.yaml")],
      scrape_configs: [
        {
          job_name: "queuescale-exporter",
          static_configs: [{ targets: [`127.0.0.1:${exporterPort}`], labels: { namespace } }],
        },
        {
          job_name: "queuescale-worker",
          file_sd_configs: [{ files: [targetsFile], refresh_interval: "5s" }],
          relabel_configs: [{ target_label: "namespace", replacement: namespace }],
        },
      ],
    });
  }

  async state(): Promise<StatusState> {
    return (await (await fetch(`${this.statusUrl}/api/state`)).json()) as StatusState;
  }

  /** Publishes `count` JSON messages through the producer API in confirmed batches. */
  async publish(count: number, batch = 500, body: (n: number) => unknown = (n) => ({ n })): Promise<number> {
    let accepted = 0;
    for (let sent = 0; sent < count; sent += batch) {
      const size = Math.min(batch, count - sent);
      const messages = Array.from({ length: size }, (_unused, index) => ({ body: body(sent + index) }));
      const response = await fetch(`${this.producerUrl}/v1/queues/${encodeURIComponent(this.plan.queue)}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ messages }),
      });
      if (response.status !== 202) throw new Error(`producer answered ${response.status}: ${await response.text()}`);
      accepted += ((await response.json()) as { accepted: number }).accepted;
    }
    return accepted;
  }

  /** Stops the producer, the autoscaler (which drains its workers) and the exporter; removes what the stack created. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      for (const { process: child } of [...this.children].reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise((done) => child.once("exit", done));
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 40_000);
        await exited;
        clearTimeout(killer);
      }
      await this.prometheus?.stop();
      await this.plan.tearDown().catch((error: unknown) => console.error(`  cleanup failed: ${String(error)}`));
    })();
    return this.stopped;
  }
}

/** Distinct message ids (and all records) in the example handler's WORK_RECORD_FILE. */
export function processedIds(recordFile: string): { distinct: number; records: number } {
  if (!existsSync(recordFile)) return { distinct: 0, records: 0 };
  const ids = readFileSync(recordFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split("\t")[0]);
  return { distinct: new Set(ids).size, records: ids.length };
}

/** Backlog and replicas of a run as a chart file (PNG or SVG by extension), time from `started`. */
export async function drawChart(state: StatusState, started: number, title: string, file: string): Promise<void> {
  const points: ChartPoint[] = state.samples
    .filter((sample) => sample.t >= started - 5_000)
    .flatMap((sample) => {
      const t = (sample.t - started) / 1000;
      return [
        { t, series: "backlog", value: sample.value, axis: "messages" as const },
        { t, series: "replicas", value: sample.replicas, axis: "replicas" as const },
      ];
    });
  await writeChart(file, points, {
    title,
    series: [
      { name: "backlog", color: "#2563eb", axis: "messages" },
      { name: "replicas", color: "#dc2626", axis: "replicas" },
    ],
  });
}
