/**
 * The size sweep as a block of docs/benchmarks.md: one table per broker and size, the targets
 * checked against it, the Prometheus-like scrape figures, and a Vega-Lite chart of the same rows.
 */
import type { TopLevelSpec } from "vega-lite";
import type { MachineFacts } from "../../loadtest/bench/proc.js";
import type { LoadFigures } from "./scrape-load.js";

export interface SweepRow {
  broker: "RabbitMQ" | "JetStream";
  size: number;
  source: string;
  endpoint: string;
  readings: number;
  /** Endpoint calls, and as many polls. */
  calls: number;
  /** The endpoint read as text (fetch, `response.text()`). */
  endpointMs: number;
  endpointP99Ms: number;
  /** The same endpoint read as bytes, not decoded. */
  endpointBytesMs: number;
  /** Median over rounds of poll time / endpoint time (text), calls of one round side by side. */
  pollRatio: number;
  /** A 95 % bootstrap interval for pollRatio (pairedRatioInterval). */
  pollRatioInterval: { low: number; high: number };
  /** The same against the endpoint read as bytes only. */
  pollBytesRatio: number;
  endpointBrokerCpuMs: number;
  pollMs: number;
  pollP99Ms: number;
  pollCpuMs: number;
  pollBrokerCpuMs: number;
  rssMiB: number;
  peakRssMiB: number;
  /** The text-format body, uncompressed. */
  bodyBytes: number;
  /** The body Prometheus receives (OpenMetrics, gzip). */
  gzipBytes: number;
  load: LoadFigures;
}

export interface SweepResult {
  date: string;
  machine: MachineFacts;
  loadStart: string[];
  loadEnd: string[];
  loadSeconds: number;
  rows: SweepRow[];
  stopped: { broker: string; size: number; reason: string }[];
}

/** The targets: reported against, never asserted. */
export const TARGETS = { pollVsEndpoint: 1.2, rssMiBAt10k: 150, scrapeMsAt10k: 25 };

const f = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const n = (value: number) => value.toLocaleString("en");
const label = (row: SweepRow) => `${row.broker} ${row.source}`;

/** "30 at 1,000, 10 at 10,000": how many calls each size's medians are of. */
function callsPerSize(rows: readonly SweepRow[]): string {
  const bySize = new Map<number, number>();
  for (const row of [...rows].sort((a, b) => a.size - b.size)) bySize.set(row.size, row.calls);
  const counts = new Set(bySize.values());
  if (counts.size === 1) return String([...counts][0]);
  return [...bySize].map(([size, calls]) => `${calls} at ${n(size)}`).join(", ");
}

/** "1.12× [1.05–1.20]": poll / endpoint and its interval, as the report and the console show it. */
export function ratioWithInterval(row: Pick<SweepRow, "pollRatio" | "pollRatioInterval">): string {
  const { low, high } = row.pollRatioInterval;
  return Number.isFinite(row.pollRatio) ? `${f(row.pollRatio, 2)}× [${f(low, 2)}–${f(high, 2)}]` : "–";
}

/** Met or missed only when the whole interval is on one side of the target. */
export function ratioVerdict(row: Pick<SweepRow, "pollRatioInterval">): string {
  const { low, high } = row.pollRatioInterval;
  if (high <= TARGETS.pollVsEndpoint) return "met";
  if (low > TARGETS.pollVsEndpoint) return "**missed**";
  return "**not settled** by this run";
}

export function sweepMarkdown(result: SweepResult, chartPath: string): string {
  const { rows } = result;
  const lines = [
    "## Exporter cost by size",
    "",
    `Measured ${result.date} with \`make bench-exporter\` (sizes: \`BENCH_RABBITMQ_QUEUES\`, ` +
      `\`BENCH_NATS_CONSUMERS\`); load average ${result.loadStart.join(" ")} at the start and ` +
      `${result.loadEnd.join(" ")} at the end, on ${result.machine.cores} cores shared with other work.`,
    "",
    `![Exporter cost by size](${chartPath})`,
    "",
    "- **poll** and the **broker endpoint** are called in rounds (endpoint, endpoint as bytes, poll, then " +
      `the other way round; ${callsPerSize(rows)} rounds), each call after 0.1 to 0.3 s of rest, in the ` +
      "same run (median). The endpoint is read as a client reads it, with `fetch` and the body as text; " +
      "in brackets, as bytes only (Node's http client, the one the sources use, no compression, no " +
      "decoding): the floor under any poll that parses the answer. " +
      "**poll / endpoint** is the median over rounds of the poll's time over the endpoint call's of the same " +
      "round (in brackets, over the bytes-only call's): calls a second apart find the machine alike, where a " +
      "ratio of two medians mixes quiet rounds with busy ones; in square brackets a (nominal) 95 % interval for it " +
      "(bootstrap over the rounds), from which a target counts as met (the whole interval at or below it), " +
      "missed (the whole interval above it), or not settled by this run. The poll runs in the " +
      "benchmark process, whose CPU is the poll's CPU; broker CPU is the broker process's over the same calls.",
    "- The **exporter** then runs as its own process (polling every 5 s, its default; started with " +
      "`--optimize-for-size`, as the image starts it) under the scrape load " +
      `below for ${result.loadSeconds} s: **RSS** is its resident memory after that (peak in brackets), the ` +
      "**body** the text-format `/metrics` (and what Prometheus receives, OpenMetrics gzip-compressed), " +
      "**one scrape** the Prometheus-like scrapes' median time to the last byte.",
    "",
    "| broker | size | source | broker endpoint median ms (bytes only) | poll median ms | poll / endpoint (/ bytes only) | " +
      "exporter CPU ms per poll | broker CPU ms per poll (per endpoint call) | exporter RSS MiB (peak) | " +
      "body KiB (gzip) | one scrape p50 ms | depth figures |",
    `|${" --- |".repeat(12)}`,
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.broker} | ${n(row.size)} | ${row.source} | ${f(row.endpointMs)} (${f(row.endpointBytesMs)}) | ` +
        `${f(row.pollMs)} | ${ratioWithInterval(row)} (${f(row.pollBytesRatio, 2)}×) | ` +
        `${f(row.pollCpuMs)} | ` +
        `${f(row.pollBrokerCpuMs)} ` +
        `(${f(row.endpointBrokerCpuMs)}) | ${f(row.rssMiB, 0)} (${f(row.peakRssMiB, 0)}) | ` +
        `${n(Math.round(row.bodyBytes / 1024))} (${n(Math.round(row.gzipBytes / 1024))}) | ` +
        `${f(row.load.prometheus.lastByte.p50)} | ${n(row.readings)} |`,
    );
  }
  for (const stop of result.stopped) {
    lines.push(`| ${stop.broker} | ${n(stop.size)} | – | stopped: ${stop.reason} |${" – |".repeat(8)}`);
  }
  lines.push("", "Against the targets:", "");
  for (const row of rows) {
    lines.push(
      `- ${label(row)} at ${n(row.size)}: poll ${ratioWithInterval(row)} the broker endpoint ` +
        `(target ≤ ${TARGETS.pollVsEndpoint}×: ${ratioVerdict(row)}; ` +
        `${f(row.pollBytesRatio, 2)}× its bytes alone)` +
        (row.size === 10_000
          ? `; RSS ${f(row.rssMiB, 0)} MiB (target ≤ ${TARGETS.rssMiBAt10k}: ` +
            `${row.rssMiB <= TARGETS.rssMiBAt10k ? "met" : "**missed**"}); one scrape ` +
            `${f(row.load.prometheus.lastByte.p50)} ms median (target ≤ ${TARGETS.scrapeMsAt10k}: ` +
            `${row.load.prometheus.lastByte.p50 <= TARGETS.scrapeMsAt10k ? "met" : "**missed**"})`
          : ""),
    );
  }
  for (const key of new Set(rows.map(label))) {
    const sorted = rows.filter((row) => label(row) === key).sort((a, b) => a.size - b.size);
    const first = sorted[0]!;
    const last = sorted.at(-1)!;
    if (first === last) continue;
    const rssGrowth = last.rssMiB / first.rssMiB;
    const bodyGrowth = last.bodyBytes / first.bodyBytes;
    lines.push(
      `- ${key}, ${n(first.size)} → ${n(last.size)}: RSS ×${f(rssGrowth, 2)}, body ×${f(bodyGrowth, 2)} ` +
        `(RSS growing no faster than the body: ${rssGrowth <= bodyGrowth ? "met" : "**missed**"})`,
    );
  }
  lines.push(
    "",
    "### Scrapes as Prometheus makes them",
    "",
    "Two Prometheus servers (an HA pair) each scrape every 15 s, at offsets of their own, with Prometheus' " +
      "headers (OpenMetrics preferred, gzip); a third reader asks every 15 s (the HPA's sync period) for the " +
      "plain text format uncompressed. Meanwhile the exporter polls every 5 s, so each scrape follows a " +
      "fresh poll. The depth families are rendered (and deflated) when a poll completes, off the scrape; a " +
      "scrape renders and compresses only the small live registry (source health, process metrics), shared " +
      "by scrapes within a second of each other. " +
      "The client reads each body and drops it (no decompression, no parsing), so the times are the " +
      "server's. Exporter CPU per scrape is read from /proc around each request (a poll may fall inside one); " +
      `with ${result.loadSeconds} s per run, p99 is the slowest of the few scrapes.`,
    "",
    "| broker | size | source | Prometheus scrapes | first byte p50 / p99 ms | last byte p50 / p99 ms | " +
      "exporter CPU ms per scrape | plain-text reads | last byte p50 / p99 ms | exporter CPU ms per read | " +
      "exporter CPU ms/s over the run |",
    `|${" --- |".repeat(11)}`,
  );
  for (const row of rows) {
    const { prometheus, direct } = row.load;
    lines.push(
      `| ${row.broker} | ${n(row.size)} | ${row.source} | ${prometheus.requests} | ` +
        `${f(prometheus.firstByte.p50)} / ${f(prometheus.firstByte.p99)} | ` +
        `${f(prometheus.lastByte.p50)} / ${f(prometheus.lastByte.p99)} | ${f(prometheus.cpuMsPerRequest)} | ` +
        `${direct.requests} | ${f(direct.lastByte.p50)} / ${f(direct.lastByte.p99)} | ${f(direct.cpuMsPerRequest)} | ` +
        `${f(row.load.cpuMsPerSecond)} |`,
    );
  }
  return lines.join("\n");
}

/** Four panels over the size (log scale): time, CPU, memory and body, the scrape. */
export function sweepChart(result: SweepResult): TopLevelSpec {
  const points: { size: number; series: string; panel: string; value: number }[] = [];
  const endpointsSeen = new Set<string>();
  for (const row of result.rows) {
    const endpointSeries = `${row.broker} ${row.endpoint} (broker)`;
    if (!endpointsSeen.has(`${endpointSeries}@${row.size}`)) {
      endpointsSeen.add(`${endpointSeries}@${row.size}`);
      points.push({
        size: row.size,
        series: endpointSeries,
        panel: "1. median ms: poll vs broker endpoint",
        value: row.endpointMs,
      });
    }
    const series = `${label(row)} source`;
    points.push(
      { size: row.size, series, panel: "1. median ms: poll vs broker endpoint", value: row.pollMs },
      { size: row.size, series, panel: "2. exporter CPU ms per poll", value: row.pollCpuMs },
      { size: row.size, series, panel: "3. exporter RSS MiB", value: row.rssMiB },
      { size: row.size, series, panel: "4. /metrics body MiB (text)", value: row.bodyBytes / 1024 / 1024 },
      { size: row.size, series, panel: "5. one scrape, last byte p50 ms", value: row.load.prometheus.lastByte.p50 },
    );
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Exporter cost by size (${result.date})`,
    data: { values: points },
    facet: { field: "panel", type: "nominal", title: null, header: { labelFontSize: 13 } },
    columns: 3,
    spec: {
      width: 260,
      height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "size", type: "quantitative", scale: { type: "log" }, title: "queues / consumers" },
        y: { field: "value", type: "quantitative", title: null, scale: { type: "log" } },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          legend: { orient: "bottom", columns: 2, labelLimit: 400 },
        },
        strokeDash: {
          condition: { test: "indexof(datum.series, '(broker)') >= 0", value: [6, 4] },
          value: [1, 0],
        },
      },
    },
    resolve: { scale: { y: "independent" } },
    config: { font: "DejaVu Sans, sans-serif", background: "white" },
  };
}
