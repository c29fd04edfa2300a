import type { QueueReading } from "../../sources/types.js";
import { SourceError } from "../../sources/types.js";

/**
 * Parses what rabbitmq_prometheus answers on
 * `/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count` into readings.
 *
 * A general exposition parser does not fit: RabbitMQ before the fix of rabbitmq-server#9648
 * (3.10.x and older, early 3.11/3.12 patches) writes label values without escaping them, so a
 * queue named `a"b` yields `queue="a"b"`, which a strict parser rejects (and with it the whole
 * payload). Only three families are needed, whose labels are always exactly `vhost` and `queue`
 * in that order, so each sample line is cut at fixed delimiters instead.
 */

/** The sample lines read: a line starting with one of these is a sample of that field. */
const SAMPLE_STARTS = [
  ["rabbitmq_detailed_queue_messages_ready{", "ready"],
  ["rabbitmq_detailed_queue_messages_unacked{", "unacked"],
  ["rabbitmq_detailed_queue_consumers{", "consumers"],
] as const;
type Field = (typeof SAMPLE_STARTS)[number][1];

const LABELS_START = '{vhost="';
const LABELS_MIDDLE = '",queue="';
const LABELS_END = '"}';

/** Whether label values in this payload are escaped as the exposition format says. */
export type LabelEscaping = "escaped" | "raw";

function parseValue(text: string): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  // Number("") is 0: an empty value must not pass as one.
  return text.trim() === "" ? NaN : Number(text);
}

/** True when `text` is a valid escaped label value: every `\` starts `\\`, `\"` or `\n`, no bare `"`. */
function isValidEscaped(text: string): boolean {
  if (!text.includes('"') && !text.includes("\\")) return true;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '"') return false;
    if (char === "\\") {
      const next = text[index + 1];
      if (next !== "\\" && next !== '"' && next !== "n") return false;
      index++;
    }
  }
  return true;
}

function unescapeLabel(text: string): string {
  if (!text.includes("\\")) return text;
  return text.replace(/\\([\\"n])/g, (_match, char: string) => (char === "n" ? "\n" : char));
}

/** `rabbitmq_version` from `rabbitmq_build_info`, as [major, minor], when the payload has it. */
function brokerVersion(text: string): [number, number] | undefined {
  // Looked for with indexOf: a multiline regex would test every position of a body of megabytes.
  for (let at = text.indexOf(BUILD_INFO); at >= 0; at = text.indexOf(BUILD_INFO, at + 1)) {
    if (at > 0 && text[at - 1] !== "\n") continue;
    const end = text.indexOf("\n", at);
    const match = /rabbitmq_version="(\d+)\.(\d+)/.exec(text.slice(at, end < 0 ? text.length : end));
    if (match) return [Number(match[1]), Number(match[2])];
  }
  return undefined;
}
const BUILD_INFO = "rabbitmq_build_info{";

/**
 * Decides how label values were written. 3.10 and older never escape; 3.13 and newer always do;
 * for 3.11/3.12 (fixed in a patch release) and unknown versions, one value that is not validly
 * escaped proves the payload is raw.
 */
export function detectEscaping(text: string, rawValues: () => Iterable<string>): LabelEscaping {
  const version = brokerVersion(text);
  if (version) {
    const [major, minor] = version;
    if (major < 3 || (major === 3 && minor <= 10)) return "raw";
    if (major > 3 || minor >= 13) return "escaped";
  }
  for (const value of rawValues()) if (!isValidEscaped(value)) return "raw";
  return "escaped";
}

/** Each prefix after a newline, built once: a string built per search would be flattened per search. */
const AFTER_NEWLINE = new Map<string, string>(SAMPLE_STARTS.map(([prefix]) => [prefix, `\n${prefix}`]));

/** Where the next line starting with `prefix` starts, looking from `from` on; -1 when there is none. */
function nextLineStarting(text: string, prefix: string, from: number): number {
  if (from === 0 && text.startsWith(prefix)) return 0;
  const at = text.indexOf(AFTER_NEWLINE.get(prefix)!, from);
  return at < 0 ? -1 : at + 1;
}

/**
 * Cuts the sample line text[start, end) at its fixed delimiters, without copying the line: raw
 * (still escaped) vhost and queue, and the value.
 */
function cutSampleLine(text: string, start: number, end: number, field: Field) {
  // Line numbers are only counted for an error message.
  const fail = (what: string) =>
    new SourceError(
      "parse",
      `rabbitmq_prometheus line ${text.slice(0, start).split("\n").length}: ${what} in a ${field} sample`,
    );
  const labelsAt = text.indexOf(LABELS_START, start);
  if (labelsAt < 0 || labelsAt + LABELS_START.length > end) throw fail("no {vhost=…,queue=…} labels");
  // The value follows the last space; label values may themselves contain spaces.
  const valueAt = text.lastIndexOf(" ", end - 1);
  const labelsEnd = valueAt < start ? -1 : text.lastIndexOf(LABELS_END, valueAt);
  if (valueAt < start || labelsEnd < labelsAt + LABELS_START.length || labelsEnd + LABELS_END.length !== valueAt) {
    throw fail("malformed labels");
  }
  const middle = text.indexOf(LABELS_MIDDLE, labelsAt + LABELS_START.length);
  if (middle < 0 || middle > labelsEnd) throw fail("no queue label");
  const value = parseValue(text.slice(valueAt + 1, end));
  if (!Number.isFinite(value)) throw fail("a value that is not a number");
  return {
    vhost: text.slice(labelsAt + LABELS_START.length, middle),
    queue: text.slice(middle + LABELS_MIDDLE.length, labelsEnd),
    value,
  };
}

type Entry = { rawVhost: string; rawQueue: string } & Partial<Record<Field, number>>;

/**
 * Readings from one node's payload. depth = ready + unacked; a queue missing either family is
 * left out rather than guessed (it would publish a false depth).
 *
 * The sample lines of each needed family are found with indexOf (a native search for the line's
 * start), not by a multiline regex or a test of every line, which cost tens of milliseconds on a
 * body of 5 MB at 10,000 queues; only those lines are cut. Each distinct name is decoded once (the
 * vhost repeats on every line).
 */
export function parsePrometheusQueues(text: string): QueueReading[] {
  // vhost → queue → entry: no composite string key per sample.
  const byVhost = new Map<string, Map<string, Entry>>();
  const entries: Entry[] = [];
  for (const [prefix, field] of SAMPLE_STARTS) {
    for (let start = nextLineStarting(text, prefix, 0); start >= 0;) {
      const newline = text.indexOf("\n", start);
      const end = newline < 0 ? text.length : newline;
      const sample = cutSampleLine(text, start, end, field);
      let queues = byVhost.get(sample.vhost);
      if (!queues) byVhost.set(sample.vhost, (queues = new Map()));
      let entry = queues.get(sample.queue);
      if (!entry) {
        entry = { rawVhost: sample.vhost, rawQueue: sample.queue };
        queues.set(sample.queue, entry);
        entries.push(entry);
      }
      entry[field] = sample.value;
      start = newline < 0 ? -1 : nextLineStarting(text, prefix, end);
    }
  }
  const escaping = detectEscaping(text, function* () {
    for (const [vhost, queues] of byVhost) {
      yield vhost;
      yield* queues.keys();
    }
  });
  const decode = escaping === "escaped" ? unescapeLabel : (value: string) => value;
  const vhosts = new Map([...byVhost.keys()].map((vhost) => [vhost, decode(vhost)]));

  const readings: QueueReading[] = [];
  for (const entry of entries) {
    if (entry.ready === undefined || entry.unacked === undefined) continue;
    readings.push({
      broker: "rabbitmq",
      labels: { vhost: vhosts.get(entry.rawVhost)!, queue: decode(entry.rawQueue) },
      depth: entry.ready + entry.unacked,
      ready: entry.ready,
      unacked: entry.unacked,
      consumers: entry.consumers,
    });
  }
  return readings;
}
