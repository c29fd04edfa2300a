import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, scrape } from "@queuescale/test-support/scrape";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const WORKER_BIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
export const EXAMPLE_HANDLER = fileURLToPath(new URL("../../examples/simulated-work.js", import.meta.url));
export const HOSTILE_HANDLER = fileURLToPath(new URL("../fixtures/hostile-handler.js", import.meta.url));

/**
 * Builds the worker (and core) with `tsc -b`, once per test file. Test files run in parallel, so
 * builds take turns through a lock directory; a lock older than two minutes is a crashed run's.
 */
export function buildWorker(): void {
  const lock = `${REPO}.tmp/worker-build.lock`;
  mkdirSync(`${REPO}.tmp`, { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      if (Date.now() > deadline) throw new Error("timed out waiting for the worker build lock");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    const tsc = `${REPO}node_modules/typescript/bin/tsc`;
    const result = spawnSync(process.execPath, [tsc, "-b", `${REPO}worker`], { cwd: REPO, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`tsc -b worker failed:\n${result.stdout}${result.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface LogLine {
  msg?: string;
  level?: number;
  [field: string]: unknown;
}

/** A spawned `queuescale-worker` and what it printed. */
export class WorkerProcess {
  readonly logs: LogLine[] = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>, argv: string[] = []) {
    this.child = spawn(process.execPath, [WORKER_BIN, ...argv], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? "", LISTEN_ADDRESS: "127.0.0.1:0", LOG_LEVEL: "debug", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let pending = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ msg: line });
        }
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  logsWith(message: string): LogLine[] {
    return this.logs.filter((line) => line.msg === message);
  }

  async waitForLog(message: string, timeoutMs = 20_000): Promise<LogLine> {
    return eventually(
      () => {
        if (!this.running && this.logsWith(message).length === 0) {
          throw new Error(`worker exited before logging "${message}": ${this.stderr}`);
        }
        return this.logsWith(message)[0];
      },
      { timeoutMs, what: `worker log "${message}"` },
    );
  }

  /** Base URL of its /metrics, /healthz, /readyz, from the port it logged at start. */
  async baseUrl(): Promise<string> {
    const started = await this.waitForLog("queuescale-worker started");
    return `http://${String(started.listen).replace(/^0\.0\.0\.0/, "127.0.0.1")}`;
  }

  /** Value of one worker family (summed over label sets matching `labels`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const samples = findSamples(await scrape(await this.baseUrl()), name, labels);
    return samples.reduce((sum, sample) => sum + sample.value, 0);
  }

  async readyStatus(): Promise<number> {
    return (await fetch(`${await this.baseUrl()}/readyz`)).status;
  }

  /** SIGTERM (unless already gone) and wait for the exit. */
  async stop(): Promise<void> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), 40_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Lines the example handler recorded: how many times each message id was handled. */
export function readRecords(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return counts;
  }
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const id = line.split("\t")[0]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
