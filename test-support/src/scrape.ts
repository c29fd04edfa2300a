/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_match, char: string) => (char === "n" ? "\n" : char));
}

/** Parses a text exposition (0.0.4 or OpenMetrics) into samples; enough for test assertions. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? "";
    for (const label of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = unescapeLabel(label[2]!);
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Samples of one metric whose labels include all of `labels`. */
export function findSamples(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/** Fetches and parses `/metrics`. */
export async function scrape(baseUrl: string): Promise<Sample[]> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (!response.ok) throw new Error(`scrape ${baseUrl} answered ${response.status}`);
  return parseExposition(await response.text());
}

/** The per-queue families of the metric contract, by the short name tests give each. */
export const QUEUE_FAMILIES = {
  depth: "queuescale_queue_depth",
  ready: "queuescale_queue_ready_messages",
  unacked: "queuescale_queue_unacked_messages",
  consumers: "queuescale_queue_consumers",
  redelivered: "queuescale_queue_redelivered_messages",
  age: "queuescale_queue_oldest_message_age_seconds",
} as const;
export type QueueField = keyof typeof QUEUE_FAMILIES;
export type QueueReadings = Record<string, Partial<Record<QueueField, number>>>;

/**
 * Per queue (named by its `keyLabel`), the queue families among `fields` present in the samples
 * that carry `labels`: a family missing for a queue is missing from its record, never 0.
 */
export function queueReadings(
  samples: Sample[],
  labels: Record<string, string>,
  keyLabel: string,
  fields: readonly QueueField[] = Object.keys(QUEUE_FAMILIES) as QueueField[],
): QueueReadings {
  const readings: QueueReadings = {};
  for (const field of fields) {
    for (const sample of findSamples(samples, QUEUE_FAMILIES[field], labels)) {
      (readings[sample.labels[keyLabel]!] ??= {})[field] = sample.value;
    }
  }
  return readings;
}
