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

const FAMILIES = {
  rabbitmq_detailed_queue_messages_ready: "ready",
  rabbitmq_detailed_queue_messages_unacked: "unacked",
  rabbitmq_detailed_queue_consumers: "consumers",
} as const;
type Field = (typeof FAMILIES)[keyof typeof FAMILIES];

const LABELS_START = '{vhost="';
const LABELS_MIDDLE = '",queue="';
const LABELS_END = '"}';

interface RawSample {
  family: Field;
  vhost: string;
  queue: string;
  value: number;
}

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
  return text.replace(/\\([\\"n])/g, (_match, char: string) => (char === "n" ? "\n" : char));
}

/** `rabbitmq_version` from `rabbitmq_build_info`, as [major, minor], when the payload has it. */
function brokerVersion(text: string): [number, number] | undefined {
  const match = /^rabbitmq_build_info\{[^\n]*rabbitmq_version="(\d+)\.(\d+)/m.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

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

function parseSampleLine(line: string, family: Field, lineNumber: () => number): RawSample {
  const fail = (what: string) =>
    new SourceError("parse", `rabbitmq_prometheus line ${lineNumber()}: ${what} in a ${family} sample`);
  const labelsAt = line.indexOf(LABELS_START);
  if (labelsAt < 0) throw fail("no {vhost=…,queue=…} labels");
  // The value follows the last space; label values may themselves contain spaces.
  const valueAt = line.lastIndexOf(" ");
  const labelsEnd = line.lastIndexOf(LABELS_END, valueAt);
  if (valueAt < 0 || labelsEnd < labelsAt + LABELS_START.length || labelsEnd + LABELS_END.length !== valueAt) {
    throw fail("malformed labels");
  }
  const middle = line.indexOf(LABELS_MIDDLE, labelsAt + LABELS_START.length);
  if (middle < 0 || middle > labelsEnd) throw fail("no queue label");
  const value = parseValue(line.slice(valueAt + 1));
  if (!Number.isFinite(value)) throw fail("a value that is not a number");
  return {
    family,
    vhost: line.slice(labelsAt + LABELS_START.length, middle),
    queue: line.slice(middle + LABELS_MIDDLE.length, labelsEnd),
    value,
  };
}

/** The sample lines of the needed families; the regex engine skips every other line without slicing it. */
const SAMPLE_LINE = /^rabbitmq_detailed_queue_(messages_ready|messages_unacked|consumers)\{[^\n]*/gm;

/**
 * Readings from one node's payload. depth = ready + unacked; a queue missing either family is
 * left out rather than guessed (it would publish a false depth).
 */
export function parsePrometheusQueues(text: string): QueueReading[] {
  const samples: RawSample[] = [];
  for (const match of text.matchAll(SAMPLE_LINE)) {
    const family = FAMILIES[`rabbitmq_detailed_queue_${match[1]}` as keyof typeof FAMILIES];
    // Line numbers are only counted for an error message.
    const lineNumber = () => text.slice(0, match.index).split("\n").length;
    samples.push(parseSampleLine(match[0], family, lineNumber));
  }
  const escaping = detectEscaping(text, function* () {
    for (const sample of samples) yield* [sample.vhost, sample.queue];
  });
  const decode = escaping === "escaped" ? unescapeLabel : (value: string) => value;

  type Entry = { vhost: string; queue: string } & Partial<Record<Field, number>>;
  // vhost → queue → entry: no composite string key per sample.
  const byVhost = new Map<string, Map<string, Entry>>();
  const entries: Entry[] = [];
  for (const sample of samples) {
    let queues = byVhost.get(sample.vhost);
    if (!queues) byVhost.set(sample.vhost, (queues = new Map()));
    let entry = queues.get(sample.queue);
    if (!entry) {
      entry = { vhost: decode(sample.vhost), queue: decode(sample.queue) };
      queues.set(sample.queue, entry);
      entries.push(entry);
    }
    entry[sample.family] = sample.value;
  }
  const readings: QueueReading[] = [];
  for (const entry of entries) {
    if (entry.ready === undefined || entry.unacked === undefined) continue;
    readings.push({
      broker: "rabbitmq",
      labels: { vhost: entry.vhost, queue: entry.queue },
      depth: entry.ready + entry.unacked,
      ready: entry.ready,
      unacked: entry.unacked,
      consumers: entry.consumers,
    });
  }
  return readings;
}
