import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./paths.js";
import type { Sample } from "./observer.js";

/** Messages per request to the producer (its MAX_BATCH_MESSAGES is 1000). */
const BATCH = 500;

export interface PublishResult {
  readonly accepted: number;
  readonly ids: readonly string[];
}

/**
 * Publishes `count` messages through the producer pod's HTTP API, in batches, with ids of the
 * run's own so the workers' record can be checked against them. Any refusal is an error.
 */
export async function publishThroughProducer(
  producer: string,
  queue: string,
  count: number,
  idPrefix: string,
): Promise<PublishResult> {
  const ids: string[] = [];
  let accepted = 0;
  for (let start = 0; start < count; start += BATCH) {
    const messages = [];
    for (let index = start; index < Math.min(count, start + BATCH); index++) {
      messages.push({ id: `${idPrefix}-${index}`, body: { index } });
    }
    const response = await fetch(`http://${producer}/v1/queues/${encodeURIComponent(queue)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { accepted?: number; ids?: string[]; error?: string };
    if (response.status !== 202) throw new Error(`producer answered ${response.status}: ${JSON.stringify(body)}`);
    accepted += body.accepted ?? 0;
    ids.push(...(body.ids ?? []));
  }
  return { accepted, ids };
}

export interface ProcessedRecord {
  /** Lines in the record: one per handled delivery. */
  readonly deliveries: number;
  readonly distinct: Set<string>;
  /** Ids handled more than once, with how often. */
  readonly duplicates: Map<string, number>;
}

/** The example handler's WORK_RECORD_FILE: id, attempt, pid per handled message. */
export async function readProcessed(file: string): Promise<ProcessedRecord> {
  const text = await readFile(file, "utf8").catch(() => "");
  const counts = new Map<string, number>();
  let deliveries = 0;
  for (const line of text.split("\n")) {
    const id = line.split("\t")[0];
    if (!id) continue;
    deliveries++;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const duplicates = new Map([...counts].filter(([, times]) => times > 1));
  return { deliveries, distinct: new Set(counts.keys()), duplicates };
}

/** Σ replicas × seconds between two instants, from the samples (each holds until the next). */
export function replicaSeconds(samples: readonly Sample[], from: number, to: number, pick: (s: Sample) => number) {
  let total = 0;
  const inside = samples.filter((sample) => sample.at >= from && sample.at <= to);
  for (let index = 0; index < inside.length; index++) {
    const sample = inside[index]!;
    const next = inside[index + 1]?.at ?? to;
    total += (pick(sample) * (next - sample.at)) / 1000;
  }
  return Math.round(total);
}

/**
 * A text chart, one row per `stepSeconds`: backlog as a bar, HPA desired and Ready pods as numbers
 * and as markers on a replicas scale.
 */
export function textChart(samples: readonly Sample[], from: number, to: number, stepSeconds = 5): string {
  const inside = samples.filter((sample) => sample.at >= from && sample.at <= to);
  const peakBacklog = Math.max(1, ...inside.map((s) => s.metric ?? 0));
  const peakReplicas = Math.max(1, ...inside.map((s) => Math.max(s.desiredReplicas ?? 0, s.readyReplicas ?? 0)));
  const rows = ["   t  backlog  desired ready  backlog (#)                    replicas (D desired, R ready)"];
  for (let t = from; t <= to; t += stepSeconds * 1000) {
    const sample = [...inside].reverse().find((s) => s.at <= t) ?? inside[0];
    if (!sample) continue;
    const backlog = sample.metric;
    const bar = "#".repeat(Math.round(((backlog ?? 0) / peakBacklog) * 30)).padEnd(30);
    const scale = Array.from({ length: peakReplicas + 1 }, () => " ");
    if (sample.readyReplicas !== undefined) scale[sample.readyReplicas] = "R";
    if (sample.desiredReplicas !== undefined) {
      scale[sample.desiredReplicas] = scale[sample.desiredReplicas] === "R" ? "*" : "D";
    }
    rows.push(
      `${String(Math.round((t - from) / 1000)).padStart(4)}  ${String(backlog ?? "-").padStart(7)}  ${String(sample.desiredReplicas ?? "-").padStart(7)} ${String(sample.readyReplicas ?? 0).padStart(5)}  ${bar} |${scale.join("")}|`,
    );
  }
  return rows.join("\n");
}

export interface SimSummary {
  readonly drainSeconds: number | null;
  readonly peakReplicas: number;
  readonly replicaSeconds: number;
}

/** `queuescale-sim burst` with the run's HPA and measured figures; its HPA column. */
export async function simulateBurst(options: {
  hpaFile: string;
  messages: number;
  throughputPerReplica: number;
  startupSeconds: number;
  scrapeIntervalSeconds: number;
  adapterDelaySeconds: number;
  syncPeriodSeconds: number;
  initialReplicas: number;
}): Promise<{ summary: SimSummary; command: string }> {
  const args = [
    "burst",
    "--hpa",
    options.hpaFile,
    "--burst",
    `${options.messages}@0`,
    "--throughput",
    options.throughputPerReplica.toFixed(2),
    "--startup",
    String(Math.round(options.startupSeconds)),
    "--scrape-interval",
    String(options.scrapeIntervalSeconds),
    "--adapter-delay",
    String(Math.round(options.adapterDelaySeconds)),
    "--sync-period",
    String(options.syncPeriodSeconds),
    "--initial-replicas",
    String(options.initialReplicas),
    "--duration",
    "900",
    "--json",
  ];
  const bin = join(REPO_ROOT, "autoscaler", "bin", "queuescale-sim.js");
  const { stdout } = await promisify(execFile)(process.execPath, [bin, ...args], { cwd: REPO_ROOT });
  const parsed = JSON.parse(stdout) as { hpa: SimSummary };
  return { summary: parsed.hpa, command: `queuescale-sim ${args.join(" ")}` };
}
