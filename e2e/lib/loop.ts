import { readFile } from "node:fs/promises";
import { pickHpa } from "../../autoscaler/src/sim/manifest.js";
import { runWithHpa, type WorkloadModel } from "../../autoscaler/src/sim/workload.js";
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

/** The example handler's WORK_RECORD_FILE (id, attempt, pid per handled message), ids with `prefix` only. */
export async function readProcessed(file: string, prefix: string): Promise<ProcessedRecord> {
  const text = await readFile(file, "utf8").catch(() => "");
  const counts = new Map<string, number>();
  let deliveries = 0;
  for (const line of text.split("\n")) {
    const id = line.split("\t")[0];
    if (!id?.startsWith(prefix)) continue;
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
  /** Σ replicas × seconds from the burst until drained, as the run counts it. */
  readonly replicaSeconds: number;
}

/**
 * `queuescale-sim burst` (its model, run in process) with the run's HPA and measured figures. The
 * CLI sums replica-seconds over its whole --duration; the run counts them until the queue is
 * drained, so the comparison takes the model's timeline up to its own drain.
 */
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
  const spec = pickHpa(await readFile(options.hpaFile, "utf8"), undefined);
  const model: WorkloadModel = {
    bursts: [{ messages: options.messages, t: 0 }],
    rates: [],
    throughputPerReplica: options.throughputPerReplica,
    startupSeconds: Math.round(options.startupSeconds),
    scrapeIntervalSeconds: options.scrapeIntervalSeconds,
    adapterDelaySeconds: Math.round(options.adapterDelaySeconds),
    syncPeriodSeconds: options.syncPeriodSeconds,
    durationSeconds: 900,
    initialReplicas: options.initialReplicas,
  };
  const result = runWithHpa(model, spec);
  const drain = result.summary.drainSeconds;
  const untilDrained = result.timeline.filter((point) => drain === null || point.t < drain);
  const command = [
    "queuescale-sim burst --hpa HPA",
    `--burst ${options.messages}@0`,
    `--throughput ${model.throughputPerReplica.toFixed(1)}`,
    `--startup ${model.startupSeconds}`,
    `--scrape-interval ${model.scrapeIntervalSeconds}`,
    `--adapter-delay ${model.adapterDelaySeconds}`,
    `--sync-period ${model.syncPeriodSeconds}`,
    `--initial-replicas ${model.initialReplicas}`,
  ].join(" ");
  return {
    summary: {
      drainSeconds: drain,
      peakReplicas: Math.max(...untilDrained.map((point) => point.replicas)),
      replicaSeconds: untilDrained.reduce((total, point) => total + point.replicas, 0),
    },
    command,
  };
}
