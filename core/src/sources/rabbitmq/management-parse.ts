import { z } from "zod";
import type { QueueReading } from "../types.js";
import { SourceError } from "../types.js";

/** Only these columns are asked for: the management API then skips building the rest. */
export const MANAGEMENT_COLUMNS = [
  "name",
  "vhost",
  "messages_ready",
  "messages_unacknowledged",
  "consumers",
  "head_message_timestamp",
] as const;

// Counters are absent (not 0) for a queue whose stats have not been emitted yet, e.g. one created
// within the last collect_statistics_interval; such a queue is left out until they are.
const queueSchema = z.object({
  name: z.string(),
  vhost: z.string(),
  messages_ready: z.number().optional(),
  messages_unacknowledged: z.number().optional(),
  consumers: z.number().optional(),
  // AMQP `timestamp` property of the head message, in seconds; only when the publisher set it.
  head_message_timestamp: z.number().nullable().optional(),
});

const pageSchema = z.object({
  items: z.array(queueSchema),
  page: z.number().int(),
  page_count: z.number().int().nonnegative(),
});

export interface ManagementPage {
  readings: QueueReading[];
  page: number;
  pageCount: number;
}

/** Parses one page of `/api/queues[/<vhost>]?page=N&page_size=…&columns=…`. */
export function parseManagementPage(body: unknown, nowMs: number): ManagementPage {
  const parsed = pageSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SourceError("parse", `management API page: ${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  const readings: QueueReading[] = [];
  for (const queue of parsed.data.items) {
    const ready = queue.messages_ready;
    const unacked = queue.messages_unacknowledged;
    if (ready === undefined || unacked === undefined) continue;
    const timestamp = queue.head_message_timestamp;
    readings.push({
      broker: "rabbitmq",
      labels: { vhost: queue.vhost, queue: queue.name },
      depth: ready + unacked,
      ready,
      unacked,
      consumers: queue.consumers,
      // A clock ahead of the publisher's would give a negative age.
      oldestMessageAgeSeconds:
        typeof timestamp === "number" && timestamp > 0 ? Math.max(0, nowMs / 1000 - timestamp) : undefined,
    });
  }
  return { readings, page: parsed.data.page, pageCount: parsed.data.page_count };
}

/**
 * The QUEUE_INCLUDE pattern, when the management API can filter with it server-side and keep at
 * least every queue the exporter keeps. The API matches with Erlang `re` on UTF-8 bytes and
 * case-insensitively: looser than JavaScript, which is fine because the exporter filters again,
 * except where a pattern counts characters (`.`, `[^…]`, `\W`, `\S`, `\D` match one character in
 * JavaScript but one byte there) or uses syntax the two do not share. Those are filtered locally.
 */
export function serverSideNamePattern(include: RegExp | undefined): string | undefined {
  if (!include) return undefined;
  const source = include.source;
  if (/[^\x20-\x7e]/.test(source)) return undefined;
  if (/\\[pPuxcWSDk]|\[\^|\(\?<[=!]|\{,/.test(source)) return undefined;
  // An unescaped `.` is only safe as `.*` or `.+`, which match any run of bytes as of characters.
  for (let index = 0; index < source.length; index++) {
    const char = source[index];
    if (char === "\\") {
      index++;
      continue;
    }
    if (char === "." && source[index + 1] !== "*" && source[index + 1] !== "+") return undefined;
  }
  return source;
}
