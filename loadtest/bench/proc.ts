/**
 * What /proc says about a process and the machine: CPU seconds so far, resident memory, and the
 * facts the benchmark report names (cores, memory, CPU model). Linux only, like the brokers here.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { cpus } from "node:os";

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** User + system CPU seconds the process has used (its threads included), from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/**
 * CPU seconds the process's threads have run, from /proc/PID/task/TID/schedstat (nanoseconds, so
 * a single scrape of a few milliseconds can be seen, which clock ticks of 10 ms cannot). A thread
 * that has exited since is not counted: use it around short stretches of work.
 */
export function threadCpuSeconds(pid: number): number {
  let nanos = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return nanos / 1e9;
}

/** Peak resident memory in bytes, from /proc/PID/status (VmHWM). */
export function peakRssBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Resident memory in bytes, from /proc/PID/status (VmRSS). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Processes whose command line contains every one of `parts` (e.g. the broker's VM, a server name). */
export function findPids(parts: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (parts.every((part) => commandLine.includes(part))) pids.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

/** The RabbitMQ node's Erlang VM (beam.smp), the process whose CPU a scrape of the broker costs. */
export function beamPid(): number {
  const pids = readdirSync("/proc").filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      return (
        readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "beam.smp" &&
        readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("rabbit")
      );
    } catch {
      return false;
    }
  });
  // The broker is the oldest: a rabbitmqctl or rabbitmq-diagnostics run is a beam.smp too, and
  // one that came and went during a sweep was taken for the broker once.
  const [broker] = pids
    .map((pid) => ({ pid: Number(pid), started: startedAt(pid) }))
    .sort((a, b) => a.started - b.started);
  if (!broker) throw new Error("no RabbitMQ beam.smp process on this machine");
  return broker.pid;
}

/** When a process started, in clock ticks since boot (field 22 of /proc/PID/stat, after the command in brackets). */
function startedAt(pid: string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return Infinity;
  }
}

export interface MachineFacts {
  cores: number;
  memoryGiB: number;
  cpuModel: string;
  loadAverage: string;
}

export function machineFacts(): MachineFacts {
  const memTotalKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model;
  return {
    cores: cpus().length,
    memoryGiB: memTotalKb / 1024 / 1024,
    cpuModel: model ?? "unknown",
    loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  };
}
