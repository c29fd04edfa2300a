import { z } from "zod";
import type { NamePattern } from "../../sources/filter.js";
import type { QueueReading } from "../../sources/types.js";
import { SourceError } from "../../sources/types.js";

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

/** Characters RE2 gives a meaning of their own; any other printable ASCII character stands for itself. */
const RE2_META = new Set([..."\\.+*?()|[]{}^$"]);

/**
 * What of QUEUE_INCLUDE the management API can filter with server-side: the literal start of a
 * pattern anchored with `^` (`^orders\.v\d+$` → `^orders\.v`), or nothing. The API matches with
 * Erlang `re`, a backtracking engine: sending the pattern itself would let `(a+)+$` stall the
 * broker, and the two syntaxes differ. An anchored literal can neither backtrack nor mean two
 * things, and it keeps every queue the pattern keeps (the API also matches case-insensitively,
 * looser still); the exporter filters again with the whole pattern. A pattern with an alternation
 * anywhere has no common start and is filtered locally only.
 */
export function serverSideNamePattern(include: NamePattern | undefined): string | undefined {
  const source = include?.source;
  if (source === undefined || !source.startsWith("^") || /(^|[^\\])(\\\\)*\|/.test(source)) return undefined;
  const literal: string[] = [];
  for (let index = 1; index < source.length;) {
    let char = source[index]!;
    let width = 1;
    if (char === "\\") {
      // An escaped punctuation character is that character; `\d`, `\x{…}`, `\Q` and the like end the literal.
      char = source[index + 1] ?? "";
      width = 2;
      if (!/^[!-/:-@[-`{-~]$/.test(char)) break;
    } else if (RE2_META.has(char) || !/^[ -~]$/.test(char)) {
      break;
    }
    const next = source[index + width];
    // `a?`, `a*`, `a{0,2}`: the character may be absent, so it is not part of the common start.
    if (next === "?" || next === "*" || next === "{") break;
    literal.push(char);
    if (next === "+") break;
    index += width;
  }
  if (literal.length === 0) return undefined;
  return `^${literal.map((char) => (/[A-Za-z0-9]/.test(char) ? char : `\\${char}`)).join("")}`;
}
