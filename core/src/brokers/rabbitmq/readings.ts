import type { NameFilter } from "../../sources/filter.js";
import type { QueueReading } from "../../sources/types.js";

/** Which queues a source publishes: QUEUE_INCLUDE/QUEUE_EXCLUDE on the name, RABBITMQ_VHOSTS on the vhost. */
export interface QueueSelection {
  readonly filter: NameFilter;
  /** Undefined: every vhost the user can see. */
  readonly vhosts?: readonly string[];
}

/** Keeps the readings the selection asks for (also after server-side filtering, which may be looser). */
export function selectReadings(readings: readonly QueueReading[], selection: QueueSelection): QueueReading[] {
  const vhosts = selection.vhosts ? new Set(selection.vhosts) : undefined;
  return readings.filter(
    (reading) =>
      (vhosts === undefined || vhosts.has(reading.labels.vhost!)) && selection.filter.keeps(reading.labels.queue!),
  );
}
