import { Gauge } from "prom-client";
import { DEPTH_METRICS, type DepthField } from "../contract.js";
import type { QueueReading } from "../sources/types.js";
import { createRegistry, type ExpositionFormat } from "./exposition.js";

const DEPTH_FIELDS = Object.keys(DEPTH_METRICS) as DepthField[];

function identityKey(reading: QueueReading): string {
  const labels = Object.entries(reading.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([reading.broker, labels]);
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

/**
 * Joins what several sources read into one reading per queue/consumer. Two sources can report the
 * same queue (two RabbitMQ nodes during a leader change); like the adapter rules, take the larger
 * figure rather than adding them up.
 */
export function mergeReadings(readingLists: Iterable<readonly QueueReading[]>): QueueReading[] {
  const merged = new Map<string, QueueReading>();
  for (const readings of readingLists) {
    for (const reading of readings) {
      const key = identityKey(reading);
      const seen = merged.get(key);
      if (!seen) {
        merged.set(key, reading);
        continue;
      }
      merged.set(key, {
        broker: reading.broker,
        labels: reading.labels,
        depth: Math.max(seen.depth, reading.depth),
        ready: maxDefined(seen.ready, reading.ready),
        unacked: maxDefined(seen.unacked, reading.unacked),
        consumers: maxDefined(seen.consumers, reading.consumers),
        redelivered: maxDefined(seen.redelivered, reading.redelivered),
        oldestMessageAgeSeconds: maxDefined(seen.oldestMessageAgeSeconds, reading.oldestMessageAgeSeconds),
      });
    }
  }
  return [...merged.values()];
}

/**
 * Renders the depth families of the contract for a set of readings. Done once per poll and cached
 * by the caller, so a scrape of 10,000 queues costs a string copy, not 60,000 label look-ups.
 */
export async function renderDepthFamilies(
  readings: readonly QueueReading[],
  format: ExpositionFormat,
): Promise<string> {
  const registry = createRegistry(format);
  const gauges = new Map<DepthField, Gauge>();
  for (const field of DEPTH_FIELDS) {
    const spec = DEPTH_METRICS[field];
    gauges.set(
      field,
      new Gauge({ name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [registry] }),
    );
  }
  for (const reading of readings) {
    const labels = { broker: reading.broker, ...reading.labels };
    for (const field of DEPTH_FIELDS) {
      const value = reading[field];
      if (value !== undefined && Number.isFinite(value)) gauges.get(field)!.set(labels, value);
    }
  }
  // A throwaway registry holds gauges only, so prom-client's counter renaming cannot bite here.
  return registry.metrics();
}
