import type { QueueReading } from "./types.js";

/**
 * One string per queue/consumer identity (broker and labels, in any label order). Each part is
 * prefixed with its length, so no label value can make two identities read the same; cheaper than
 * JSON.stringify of the sorted entries, and it runs for every queue at every poll.
 */
export function identityKey(reading: Pick<QueueReading, "broker" | "labels">): string {
  const names = Object.keys(reading.labels);
  if (names.length > 1) names.sort();
  let key = `${reading.broker.length}:${reading.broker}`;
  for (const name of names) {
    const value = reading.labels[name]!;
    key += `${name.length}:${name}${value.length}:${value}`;
  }
  return key;
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
  return [...mergeByIdentity(readingLists).values()];
}

/** mergeReadings, keyed by identityKey. */
export function mergeByIdentity(readingLists: Iterable<readonly QueueReading[]>): Map<string, QueueReading> {
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
  return merged;
}
