import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "@queuescale/core";

export type WorkerState = "starting" | "ready" | "unready" | "stopping" | "exited";

export interface WorkerInfo {
  id: string;
  pid: number | undefined;
  port: number;
  state: WorkerState;
  startedAt: number;
  exitCode: number | null;
  exitSignal: string | null;
  logLines: number;
}

export interface WorkerPoolOptions {
  /** Executable and arguments of one worker, e.g. [process.execPath, "worker/dist/main.js"]. */
  command: readonly string[];
  /** Environment every worker gets (LISTEN_ADDRESS is set per worker). */
  env: NodeJS.ProcessEnv;
  /** Folder for one log file per worker. */
  logDir: string;
  /** After SIGTERM, how long a worker may drain before SIGKILL (Kubernetes' grace period). */
  gracePeriodMs: number;
  /** Lines of each worker's log kept in memory for the status page. */
  keepLogLines?: number;
  onChange?: () => void;
}

class Worker {
  state: WorkerState = "starting";
  exitCode: number | null = null;
  exitSignal: string | null = null;
  readonly lines: string[] = [];
  totalLines = 0;
  readonly exited: Promise<void>;
  private readinessTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly port: number,
    readonly process: ChildProcess,
    readonly startedAt: number,
    private readonly log: WriteStream,
    private readonly keepLines: number,
    private readonly onChange: () => void,
  ) {
    for (const stream of [process.stdout, process.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => this.append(line));
    }
    this.exited = new Promise((resolve) => {
      process.once("exit", (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        this.state = "exited";
        clearInterval(this.readinessTimer);
        this.append(`[queuescale-local] exited with ${signal ?? `code ${code}`}`);
        this.log.end();
        this.onChange();
        resolve();
      });
    });
    // Readiness as a kubelet probes it: GET /readyz every second.
    this.readinessTimer = setInterval(() => void this.probe(), 1_000);
  }

  private append(line: string): void {
    this.totalLines++;
    this.lines.push(line);
    if (this.lines.length > this.keepLines) this.lines.splice(0, this.lines.length - this.keepLines);
    this.log.write(`${line}\n`);
  }

  private isStopping(): boolean {
    return this.state === "stopping" || this.state === "exited";
  }

  private async probe(): Promise<void> {
    if (this.state === "stopping" || this.state === "exited") return;
    let ready: boolean;
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(900) });
      ready = response.ok;
      await response.body?.cancel();
    } catch {
      ready = false;
    }
    // The state may have changed while the probe was in flight.
    if (this.isStopping()) return;
    const next: WorkerState = ready ? "ready" : this.state === "starting" ? "starting" : "unready";
    if (next !== this.state) {
      this.state = next;
      this.onChange();
    }
  }

  /** Log lines from index `from` of all lines ever written (older ones may have been dropped). */
  logSince(from: number): { lines: string[]; next: number } {
    const firstKept = this.totalLines - this.lines.length;
    const start = Math.max(from, firstKept);
    return { lines: this.lines.slice(start - firstKept), next: this.totalLines };
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      pid: this.process.pid,
      port: this.port,
      state: this.state,
      startedAt: this.startedAt,
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      logLines: this.totalLines,
    };
  }
}

/**
 * Real worker processes standing in for a Deployment's pods: scale up spawns, scale down sends
 * SIGTERM (the worker drains its in-flight messages) and SIGKILL after the grace period.
 */
export class WorkerPool {
  private readonly workers = new Map<string, Worker>();
  private nextId = 1;
  private readonly keepLines: number;

  constructor(private readonly options: WorkerPoolOptions) {
    mkdirSync(options.logDir, { recursive: true });
    this.keepLines = options.keepLogLines ?? 2_000;
  }

  private changed = () => this.options.onChange?.();

  /** Workers that count as replicas: every one not told to stop and not exited. */
  private active(): Worker[] {
    return [...this.workers.values()].filter((worker) => worker.state !== "stopping" && worker.state !== "exited");
  }

  get replicas(): number {
    return this.active().length;
  }

  get readyReplicas(): number {
    return this.active().filter((worker) => worker.state === "ready").length;
  }

  list(): WorkerInfo[] {
    return [...this.workers.values()].map((worker) => worker.info());
  }

  /** `/metrics` URLs of the running workers: they publish the depth series too. */
  metricsUrls(): string[] {
    return this.active().map((worker) => `http://127.0.0.1:${worker.port}/metrics`);
  }

  /**
   * `host:port` of every worker that has not exited, stopping ones included: a draining worker
   * still finishes messages and reports them, as a terminating pod does until it is gone.
   */
  scrapeTargets(): string[] {
    return [...this.workers.values()]
      .filter((worker) => worker.state !== "exited")
      .map((worker) => `127.0.0.1:${worker.port}`);
  }

  logSince(id: string, from: number): { lines: string[]; next: number } | undefined {
    return this.workers.get(id)?.logSince(from);
  }

  async scaleTo(replicas: number): Promise<void> {
    const active = this.active();
    if (replicas > active.length) {
      for (let count = active.length; count < replicas; count++) await this.spawnOne();
    } else if (replicas < active.length) {
      // Like a ReplicaSet: remove unready workers first, then the newest.
      const victims = [...active]
        .sort((a, b) => Number(a.state === "ready") - Number(b.state === "ready") || b.startedAt - a.startedAt)
        .slice(0, active.length - replicas);
      for (const worker of victims) this.stopWorker(worker);
    }
  }

  private async spawnOne(): Promise<void> {
    const id = `worker-${this.nextId++}`;
    const port = await freePort();
    const [executable, ...args] = this.options.command;
    const child = spawn(executable!, args, {
      env: { ...this.options.env, LISTEN_ADDRESS: `127.0.0.1:${port}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(this.options.logDir, `${id}.log`), { flags: "a" });
    child.once("error", (error) => log.write(`[queuescale-local] failed to start: ${error.message}\n`));
    const worker = new Worker(id, port, child, Date.now(), log, this.keepLines, this.changed);
    this.workers.set(id, worker);
    this.changed();
  }

  private stopWorker(worker: Worker): void {
    worker.state = "stopping";
    worker.process.kill("SIGTERM");
    const killer = setTimeout(() => worker.process.kill("SIGKILL"), this.options.gracePeriodMs);
    void worker.exited.then(() => clearTimeout(killer));
    this.changed();
  }

  /** Stops every worker and waits for them to exit. */
  async stopAll(): Promise<void> {
    for (const worker of this.active()) this.stopWorker(worker);
    await Promise.all([...this.workers.values()].map((worker) => worker.exited));
  }
}
