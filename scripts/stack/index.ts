/**
 * The whole queuescale pipeline on one machine, as `make demo` and `make loadtest` run it: the
 * exporter, the local autoscaler (the Kubernetes HPA algorithm reading the HPA of
 * k8s/overlays/<broker>) with real worker processes, and the producer API, against the local broker.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { freePort, waitFor } from "@queuescale/core";
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
  spec?: { metrics?: { external?: { metric?: { selector?: { matchLabels?: Selector } } } }[] };
};

/** The overlay's HPA: its External metric selector names the queue or consumer to use. */
function overlayHpa(manifests: string, broker: string): { hpa: Manifest; selector: Selector } {
  const hpa = parseAllDocuments(manifests)
    .map((document) => document.toJS() as Manifest | null)
    .find((object) => object?.kind === "HorizontalPodAutoscaler");
  const selector = hpa?.spec?.metrics?.[0]?.external?.metric?.selector?.matchLabels;
  if (!hpa || !selector) throw new Error(`k8s/overlays/${broker} has no HPA with an External metric selector`);
  return { hpa, selector };
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

  private constructor(private readonly options: StackOptions) {
    const makePlan = BROKER_PLANS[options.broker];
    if (!makePlan) throw new Error(`BROKER must be one of ${Object.keys(BROKER_PLANS).join(", ")}`);
    rmSync(options.out, { recursive: true, force: true });
    mkdirSync(options.out, { recursive: true });
    const manifests = execFileSync("kubectl", ["kustomize", join(ROOT, "k8s", "overlays", options.broker)], {
      encoding: "utf8",
    });
    const { hpa, selector } = overlayHpa(manifests, options.broker);
    this.plan = makePlan(selector, options.uniqueSuffix);
    // The overlay's HPA as deployed, selecting the objects this run really uses.
    hpa.spec!.metrics![0]!.external!.metric!.selector = { matchLabels: this.plan.selector };
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
    this.spawnProcess("local-autoscaler", "autoscaler/dist/local/main.js", {
      ...plan.env,
      HPA: this.hpaPath,
      METRICS_URL: `${this.exporterUrl}/metrics`,
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
      timeoutMs: 30_000,
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
      timeoutMs: 30_000,
      intervalMs: 250,
    });
  }

  async state(): Promise<StatusState> {
    return (await (await fetch(`${this.statusUrl}/api/state`)).json()) as StatusState;
  }

  /** Publishes `count` JSON messages through the producer API in confirmed batches. */
  async publish(count: number, batch = 500): Promise<number> {
    let accepted = 0;
    for (let sent = 0; sent < count; sent += batch) {
      const size = Math.min(batch, count - sent);
      const messages = Array.from({ length: size }, (_unused, index) => ({ body: { n: sent + index } }));
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
