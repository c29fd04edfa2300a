import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

/**
 * Every long-running process of the run (etcd, the control plane, Prometheus, the adapter, the
 * exporters). Each gets its own process group and a log file, and stopAll() ends them in reverse
 * start order, so a component never outlives what it talks to by more than a moment.
 */
export class ProcessGroup {
  private readonly running: Managed[] = [];

  constructor(private readonly logDir: string) {}

  start(name: string, command: string, args: readonly string[], options: StartOptions = {}): ChildProcess {
    const logPath = this.logPath(name);
    const log = createWriteStream(logPath, { flags: "a" });
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: stopping it reaches anything it starts in turn.
      detached: true,
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    child.once("exit", (code, signal) => {
      if (!this.stopping) log.write(`\n[e2e] ${name} exited (code ${code}, signal ${signal})\n`);
    });
    this.running.push({ name, child, exited });
    return child;
  }

  private stopping = false;

  logPath(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** True while the named process has not exited. */
  alive(name: string): boolean {
    const managed = this.running.find((entry) => entry.name === name);
    return managed !== undefined && managed.child.exitCode === null && managed.child.signalCode === null;
  }

  /** Names of started processes that exited although nobody asked them to. */
  crashed(): string[] {
    return this.running.filter((entry) => !this.alive(entry.name)).map((entry) => entry.name);
  }

  async stop(name: string): Promise<void> {
    const index = this.running.findIndex((entry) => entry.name === name);
    if (index < 0) return;
    const [managed] = this.running.splice(index, 1);
    if (managed) await terminate(managed);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    while (this.running.length > 0) {
      const managed = this.running.pop();
      if (managed) await terminate(managed);
    }
  }

  /** Last resort on process exit, where nothing asynchronous runs any more. */
  killAllNow(): void {
    for (const managed of this.running) signalGroup(managed.child, "SIGKILL");
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function terminate(managed: Managed, graceMs = 10_000): Promise<void> {
  signalGroup(managed.child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(managed.child, "SIGKILL"), graceMs);
  await managed.exited;
  clearTimeout(timer);
}
