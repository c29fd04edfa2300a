/**
 * Timing and CPU accounting shared by every row of the peer comparison: the same loop, the same
 * statistics, for an exporter's scrape, a poll of one of our sources, or a broker endpoint.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http, { type IncomingMessage } from "node:http";
import { medianInterval, quantile } from "@queuescale/core";
import { cpuSeconds, rssBytes } from "./proc.js";

/** What one row of the report says about a target. */
export interface Measurement {
  /** Who answers: our exporter and its source, a peer exporter, or the broker itself. */
  target: string;
  /** What a call is: a scrape of cached figures, a poll of the broker, a scrape that queries the broker. */
  call: string;
  calls: number;
  medianMs: number;
  p99Ms: number;
  /** CPU seconds per call of the process that answers (exporter, or this process for a poll); undefined for the broker's own endpoints. */
  processCpuMs?: number;
  /** CPU seconds per call of the broker process, measured around the same calls. */
  brokerCpuMs: number;
  rssMiB?: number;
  /** Depth figures the call yielded (series or readings), to show each row read the same queues. */
  depthFigures?: number;
  note?: string;
  /** Each call's time, in the order of the rounds of measureAlternately. */
  roundsMs?: number[];
}

/** CPU of this process (a poll runs in it), in seconds. */
export const ownCpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

/**
 * Makes `calls` calls one after the other (after one warm-up call) and accounts the time of each and
 * the CPU the answering process and the broker used over all of them.
 */
export async function measureCalls(options: {
  target: string;
  call: string;
  calls: number;
  work: () => Promise<unknown>;
  processCpu?: () => number;
  brokerCpu: () => number;
  rssPid?: number;
  depthFigures?: number;
  note?: string;
}): Promise<Measurement> {
  await options.work();
  const durations: number[] = [];
  const processBefore = options.processCpu?.();
  const brokerBefore = options.brokerCpu();
  for (let index = 0; index < options.calls; index++) {
    const started = performance.now();
    await options.work();
    durations.push(performance.now() - started);
  }
  const brokerCpuMs = ((options.brokerCpu() - brokerBefore) * 1000) / options.calls;
  const processCpuMs =
    options.processCpu && processBefore !== undefined
      ? ((options.processCpu() - processBefore) * 1000) / options.calls
      : undefined;
  return {
    target: options.target,
    call: options.call,
    calls: options.calls,
    medianMs: quantile(durations, 0.5),
    p99Ms: quantile(durations, 0.99),
    processCpuMs,
    brokerCpuMs,
    rssMiB: options.rssPid === undefined ? undefined : rssBytes(options.rssPid) / 1024 / 1024,
    depthFigures: options.depthFigures,
    note: options.note,
  };
}

/** One kind of call of measureAlternately. */
export interface CallSpec {
  target: string;
  call: string;
  work: () => Promise<unknown>;
  processCpu?: () => number;
  brokerCpu: () => number;
  depthFigures?: () => number | undefined;
}

/**
 * Makes the calls of `specs` in rounds, `calls` rounds (after one warm-up call each), the order
 * reversed every other round (first, second, third, then third, second, first…), and accounts each
 * call's time and the CPU used around it. Whatever else the machine or the broker does meanwhile
 * (RabbitMQ emits its statistics every 5 s) then falls on all alike: the ratio of the medians of two
 * blocks of calls one after the other moved by a third between runs.
 * Each call starts after about `restMs` of rest, as the exporter's polls, 5 s apart, find their
 * broker, not busy with the call before. Resolves with one measurement per spec, in their order,
 * each with its durations by round (for pairedRatio).
 */
export async function measureAlternately(
  calls: number,
  specs: readonly CallSpec[],
  restMs = 200,
): Promise<Measurement[]> {
  const durations: number[][] = specs.map(() => []);
  const processCpu = specs.map(() => 0);
  const brokerCpu = specs.map(() => 0);
  for (const spec of specs) await spec.work();
  const forward = specs.map((_spec, which) => which);
  const backward = [...forward].reverse();
  for (let index = 0; index < calls; index++) {
    // A drift over the run falls on all alike.
    for (const which of index % 2 === 0 ? forward : backward) {
      const spec = specs[which]!;
      // A rest of random length, so that nothing periodic (a broker's statistics every 5 s) keeps
      // falling on the same one.
      await new Promise((resolve) => setTimeout(resolve, restMs * (0.5 + Math.random())));
      const processBefore = spec.processCpu?.() ?? 0;
      const brokerBefore = spec.brokerCpu();
      const started = performance.now();
      await spec.work();
      durations[which]!.push(performance.now() - started);
      brokerCpu[which]! += spec.brokerCpu() - brokerBefore;
      processCpu[which]! += (spec.processCpu?.() ?? 0) - processBefore;
    }
  }
  return specs.map((spec, which) => ({
    target: spec.target,
    call: spec.call,
    calls,
    medianMs: quantile(durations[which]!, 0.5),
    p99Ms: quantile(durations[which]!, 0.99),
    processCpuMs: spec.processCpu ? (processCpu[which]! * 1000) / calls : undefined,
    brokerCpuMs: (brokerCpu[which]! * 1000) / calls,
    depthFigures: spec.depthFigures?.(),
    roundsMs: durations[which],
  }));
}

/**
 * The median over rounds of `a`'s time over `b`'s, both measured by measureAlternately in the same
 * rounds. Two calls of one round are a second apart and find the machine alike; the ratio of two
 * medians mixes rounds where the machine was quiet with rounds where it was not (on this kind of
 * shared machine, a call's time can double for minutes).
 */
export function pairedRatio(a: Measurement, b: Measurement): number {
  return quantile(roundRatios(a, b), 0.5);
}

/**
 * How far pairedRatio may be off given the spread of the rounds: a (nominal) 95 % bootstrap interval for it.
 * On a busy machine two sweeps of the same code put one ratio at 0.84× and 1.26×; the interval
 * says whether a target is met, missed, or not told apart from it by this many rounds.
 */
export function pairedRatioInterval(a: Measurement, b: Measurement): { low: number; high: number } {
  return medianInterval(roundRatios(a, b));
}

function roundRatios(a: Measurement, b: Measurement): number[] {
  return (a.roundsMs ?? []).map((ms, round) => ms / b.roundsMs![round]!);
}

/**
 * A GET whose body is read as bytes, not compressed and not decoded, with Node's http client (the
 * one our sources use): what an answer costs before any client work, the floor under a poll.
 */
export async function fetchBytes(url: string): Promise<number> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    http.get(url, { signal: AbortSignal.timeout(180_000) }, resolve).on("error", reject);
  });
  let bytes = 0;
  for await (const chunk of response) bytes += (chunk as Buffer).byteLength;
  if (response.statusCode !== 200) throw new Error(`${new URL(url).pathname} answered ${response.statusCode}`);
  return bytes;
}

/** A GET whose whole body is read, failing on anything but 200. */
export async function fetchBody(url: string, init: RequestInit = {}): Promise<string> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(180_000) });
  const body = await response.text();
  if (!response.ok) throw new Error(`${new URL(url).pathname} answered ${response.status}`);
  return body;
}

/** Child processes the benchmark started; every one is stopped at the end, on failure and on Ctrl-C. */
export class Children {
  private readonly running = new Set<ChildProcess>();

  spawn(command: string, args: readonly string[], env: Record<string, string>): ChildProcess {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.running.add(child);
    child.once("exit", () => this.running.delete(child));
    return child;
  }

  async stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((child) => this.stop(child)));
  }
}

export { cpuSeconds };

/**
 * What a benchmark made, removed once at the end or on SIGINT/SIGTERM (then exit 130): child
 * processes first, then the registered steps, last registered first.
 */
export function cleanUpOnExit(children: Children): {
  onCleanUp: (work: () => Promise<void>) => void;
  cleanUp: () => Promise<void>;
} {
  const steps: (() => Promise<void>)[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      await children.stopAll();
      for (const work of steps.splice(0).reverse()) {
        await work().catch((error: unknown) => console.error(`clean-up failed: ${String(error)}`));
      }
    })());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: removing what the benchmark made`);
      void cleanUp().then(() => process.exit(130));
    });
  }
  return { onCleanUp: (work) => steps.push(work), cleanUp };
}
