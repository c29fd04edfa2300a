import { ConfigError } from "@queuescale/core";
import type { Burst, RateSegment, RunSummary, WorkloadModel } from "./workload.js";

/** `--burst 5000@30`: 5000 messages published at t=30 s (`5000` alone: at t=0). */
export function parseBurstFlag(raw: string): Burst {
  const match = /^(\d+(?:\.\d+)?)(?:@(\d+(?:\.\d+)?))?$/.exec(raw.trim());
  if (!match) throw new ConfigError("--burst", `${raw}: must be MESSAGES[@SECONDS], e.g. 5000@30`);
  return { messages: Number(match[1]), t: Number(match[2] ?? 0) };
}

/** `--rate 50@0-600`: 50 messages per second from t=0 to t=600 s. */
export function parseRateFlag(raw: string): RateSegment {
  const match = /^(\d+(?:\.\d+)?)@(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(raw.trim());
  if (!match || Number(match[3]) <= Number(match[2])) {
    throw new ConfigError("--rate", `${raw}: must be PER_SECOND@FROM-TO with FROM < TO, e.g. 50@0-600`);
  }
  return { perSecond: Number(match[1]), from: Number(match[2]), to: Number(match[3]) };
}

export function describeWorkload(model: Pick<WorkloadModel, "bursts" | "rates">): string {
  const parts = [
    ...model.bursts.map((b) => `${b.messages} messages at t=${b.t} s`),
    ...model.rates.map((r) => `${r.perSecond}/s from t=${r.from} to ${r.to} s`),
  ];
  return parts.join(", ");
}

/** The human summary: the HPA next to the instant oracle. */
export function summaryTable(model: WorkloadModel, target: number, hpa: RunSummary, oracle: RunSummary): string {
  const drain = (s: RunSummary) =>
    s.drainSeconds === null ? `not within ${model.durationSeconds} s` : `${s.drainSeconds} s`;
  const rows: [string, string, string][] = [
    ["time to drain", drain(hpa), drain(oracle)],
    ["peak replicas", String(hpa.peakReplicas), String(oracle.peakReplicas)],
    ["replica-seconds", String(hpa.replicaSeconds), String(oracle.replicaSeconds)],
    ["flaps (direction changes)", String(hpa.flaps), String(oracle.flaps)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  const column = Math.max(3, ...rows.map((r) => r[1].length));
  const lines = [
    `workload: ${describeWorkload(model)}`,
    `model:    ${model.throughputPerReplica} msg/s per ready replica, ${target} messages per replica target, ` +
      `pods ready ${model.startupSeconds} s after creation, depth scraped every ${model.scrapeIntervalSeconds} s ` +
      `and seen ${model.adapterDelaySeconds} s later, HPA sync every ${model.syncPeriodSeconds} s, ` +
      `${model.durationSeconds} s run from ${model.initialReplicas} replica(s)`,
    "",
    `${"".padEnd(width)}  ${"HPA".padEnd(column)}  oracle`,
    ...rows.map(([label, a, b]) => `${label.padEnd(width)}  ${a.padEnd(column)}  ${b}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** `--handler-seconds 4@300`: one message takes the handler 4 s from t=300 s on (`0.4` alone: from 0). */
export function parseHandlerFlag(raw: string): { from: number; secondsPerMessage: number } {
  const match = /^(\d+(?:\.\d+)?)(?:@(\d+))?$/.exec(raw.trim());
  if (!match || Number(match[1]) <= 0) {
    throw new ConfigError("--handler-seconds", `${raw}: must be SECONDS[@FROM] with SECONDS > 0, e.g. 4@300`);
  }
  return { secondsPerMessage: Number(match[1]), from: Number(match[2] ?? 0) };
}
