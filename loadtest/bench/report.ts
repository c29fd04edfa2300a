/**
 * docs/benchmarks.md from one run of the peer comparison: the machine and versions, one table per
 * broker and size with every figure next to its ratio to the broker's own endpoint in the same run.
 */
import { EXPORTER_BLOCK, renderBlock } from "./doc-blocks.js";
import type { Measurement } from "./measure.js";
import type { ClusterCheck } from "./nats-cluster.js";
import type { MachineFacts } from "./proc.js";

export interface Versions {
  rabbitmq: string;
  nats: string;
  node: string;
  exporter: string;
  kbudde: string;
  natsPeer: string;
  k6: string;
}

export interface Section {
  title: string;
  /** The row whose figures the ratios divide by: the broker's own endpoint. */
  reference: Measurement;
  rows: Measurement[];
  notes: string[];
}

export interface ClientBench {
  command: string;
  output: string;
}

export const CLIENT_SECTION_TITLE = "## Worker and producer";

const fixed = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
const ratio = (value: number | undefined, reference: number | undefined) =>
  value === undefined || reference === undefined || !(reference > 0) ? "–" : `${(value / reference).toFixed(2)}×`;

function table(section: Section): string {
  const header =
    "| who answers | what a call is | calls | median ms | p99 ms | median vs broker endpoint | " +
    "CPU ms/call (answering process) | broker CPU ms/call | broker CPU vs endpoint | RSS MiB | depth figures |";
  const lines = [header, `|${" --- |".repeat(11)}`];
  for (const row of section.rows) {
    lines.push(
      `| ${row.target} | ${row.call}${row.note ? ` (${row.note})` : ""} | ${row.calls} | ${fixed(row.medianMs)} | ` +
        `${fixed(row.p99Ms)} | ${ratio(row.medianMs, section.reference.medianMs)} | ${fixed(row.processCpuMs)} | ` +
        `${fixed(row.brokerCpuMs)} | ${ratio(row.brokerCpuMs, section.reference.brokerCpuMs)} | ${fixed(row.rssMiB, 0)} | ` +
        `${row.depthFigures ?? "–"} |`,
    );
  }
  return lines.join("\n");
}

export function renderReport(options: {
  date: string;
  command: string;
  machine: MachineFacts;
  versions: Versions;
  sections: Section[];
  clientBenches: ClientBench[];
  unavailable: string[];
  cluster?: ClusterCheck;
  /** Sections of the page before, for a broker this run left out, rendered as they were. */
  carriedSections?: string[];
  /** The worker and producer section of the page before, kept when their benchmarks are not run. */
  carriedClientSection?: string;
  /** The block `make bench-exporter` wrote into the page before, carried over as it is. */
  exporterBlock?: string;
}): string {
  const { machine, versions } = options;
  const parts = [
    "# Benchmarks",
    "",
    `Measured ${options.date} with \`${options.command}\` (all figures of this page but the block that`,
    "`make bench-exporter` writes" +
      ((options.carriedSections?.length ?? 0) > 0 ? ", the RabbitMQ tables," : "") +
      (options.clientBenches.length === 0 && options.carriedClientSection
        ? " and the worker and producer section, carried over from an earlier run,"
        : "") +
      " come from that one run; rerun it to refresh the page). Read the figures as ratios between rows",
    "of the same table: the machine is shared and small, so absolute times move from run to run.",
    "",
    "## Machine and versions",
    "",
    "| | |",
    "| --- | --- |",
    `| CPU | ${machine.cpuModel}, ${machine.cores} cores |`,
    `| memory | ${machine.memoryGiB.toFixed(1)} GiB |`,
    `| load average at the start | ${machine.loadAverage} |`,
    `| RabbitMQ | ${versions.rabbitmq} |`,
    `| NATS server | ${versions.nats} |`,
    `| Node.js | ${versions.node} |`,
    `| queuescale exporter | ${versions.exporter} |`,
    `| kbudde/rabbitmq_exporter | ${versions.kbudde} |`,
    `| nats-io/prometheus-nats-exporter | ${versions.natsPeer} |`,
    `| k6 (load tests) | ${versions.k6} |`,
    "",
    "## How to read the tables",
    "",
    "- **Two kinds of cost.** Our exporter polls the broker in the background (once per",
    "  `POLL_INTERVAL_SECONDS`, 5 s by default) and serves `/metrics` from the last snapshot, so a",
    "  scrape of it never reaches the broker. kbudde/rabbitmq_exporter and",
    "  nats-io/prometheus-nats-exporter query the broker on every scrape. So our rows come in pairs:",
    "  *poll* (what the background poller pays per interval; run in the benchmark process, whose CPU",
    "  is the one counted) and *scrape of /metrics (cached snapshot)* (what Prometheus pays). Compare",
    "  a peer's scrape with our poll for the broker-side cost, and with our scrape for what a scrape",
    "  costs.",
    "- **Calls** run one after the other, after one warm-up call. p99 of a few calls is close to their",
    "  maximum.",
    "- **CPU ms/call** is the user + system CPU (from /proc) of the process that answers, divided by",
    "  the calls; **broker CPU ms/call** is the broker process's CPU (RabbitMQ's beam.smp, the",
    "  throwaway nats-server) over the same calls. Other work on the machine also runs on the shared",
    "  RabbitMQ node, so small broker figures are noisy.",
    "- **Ratios** divide by the first row of the table, the broker's own endpoint measured in the same",
    "  run: `/metrics/detailed` with the families our prometheus source reads, or `/jsz?consumers=true`.",
    "- **RSS** is the exporter process's resident memory after the scrapes.",
    "- **Depth figures**: queues (consumers) the call yielded a depth for, so every row can be seen to",
    "  read the same set.",
    "",
  ];
  // Sections of an earlier run kept for a broker this run left out (already rendered).
  for (const carried of options.carriedSections ?? []) parts.push(carried, "");
  for (const section of options.sections) {
    parts.push(`## ${section.title}`, "", table(section), "");
    for (const note of section.notes) parts.push(`- ${note}`);
    if (section.notes.length > 0) parts.push("");
  }
  if (options.cluster) parts.push(...clusterSection(options.cluster));
  parts.push(
    renderBlock(
      EXPORTER_BLOCK,
      options.exporterBlock ?? "## Exporter cost by size\n\nNot measured yet: run `make bench-exporter`.",
    ),
    "",
  );
  if (options.unavailable.length > 0) {
    parts.push("## Not measured", "");
    for (const line of options.unavailable) parts.push(`- ${line}`);
    parts.push("");
  }
  if (options.clientBenches.length === 0 && options.carriedClientSection) {
    // PEERS_CLIENT_BENCHES=0: the worker and producer figures of the earlier run stay as they were.
    parts.push(options.carriedClientSection.trim(), "");
    return `${parts.join("\n").trimEnd()}\n`;
  }
  parts.push(
    CLIENT_SECTION_TITLE,
    "",
    "The worker's no-op throughput next to bare client loops, and the producer's confirmed ingest",
    "rate next to the bare client's confirmed publish rate, printed by their own benchmarks in the",
    "same run:",
    "",
  );
  for (const bench of options.clientBenches) {
    // The programs under test log JSON lines (pino) to the same output: the figures only.
    const figures = bench.output
      .split("\n")
      .filter((line) => !line.startsWith('{"level":'))
      .join("\n");
    parts.push(`\`${bench.command}\`:`, "", "```text", figures.trim(), "```", "");
  }
  return `${parts.join("\n").trimEnd()}\n`;
}

/** Counts as equal when within half a message (the figures are whole messages). */
const same = (a: number, b: number) => Math.abs(a - b) < 0.5;

function clusterSection(check: ClusterCheck): string[] {
  const { leader } = check;
  const lines = [
    `## NATS JetStream, 3-node cluster: one replicated consumer`,
    "",
    `A 3-node cluster (nats-server ${check.version}) started by the benchmark on loopback; stream ` +
      `\`${check.stream}\` and the durable pull consumer \`${check.consumer}\` on all three servers (R3); ` +
      `${check.published} messages published, 10 delivered and 4 of those acknowledged. The consumer's ` +
      `leader (${leader.server}) answers **${leader.waiting} waiting, ${leader.unacked} unacknowledged** ` +
      "on the JetStream API. What each exporter reports for that one consumer " +
      "(each figure is waiting / unacknowledged):",
    "",
    "| who reports | families | series for the consumer | each series | sum over the series | max over the series | sum = leader | max = leader |",
    `|${" --- |".repeat(8)}`,
  ];
  const verdicts: { who: string; sumOk: boolean; maxOk: boolean; series: number }[] = [];
  for (const report of check.reports) {
    const waiting = report.series.map((series) => series.waiting);
    const unacked = report.series.map((series) => series.unacked);
    const sum = [waiting, unacked].map((values) => values.reduce((a, b) => a + b, 0));
    const max = [waiting, unacked].map((values) => (values.length > 0 ? Math.max(...values) : NaN));
    const sumOk = same(sum[0]!, leader.waiting) && same(sum[1]!, leader.unacked);
    const maxOk = same(max[0]!, leader.waiting) && same(max[1]!, leader.unacked);
    verdicts.push({ who: report.who, sumOk, maxOk, series: report.series.length });
    lines.push(
      `| ${report.who} | \`${report.family}\` | ${report.series.length} | ` +
        `${report.series.map((series) => `${series.from}: ${series.waiting} / ${series.unacked}`).join("; ")} | ` +
        `${sum[0]} / ${sum[1]} | ${max[0]} / ${max[1]} | ${sumOk ? "yes" : "**no**"} | ${maxOk ? "yes" : "**no**"} |`,
    );
  }
  const peer = verdicts[0];
  lines.push("");
  if (peer) {
    lines.push(
      `- prometheus-nats-exporter reports every replica a server holds, so the consumer has ${peer.series} series; ` +
        `a \`sum\` over them ${peer.sumOk ? "gives" : "does not give"} the leader's numbers, and a \`max\` ` +
        `${peer.maxOk ? "gives them here" : "does not give them"}: each follower reports its own copy of the ` +
        "consumer's state (the table shows what), which is not the leader's. The query that reads the leader's " +
        "numbers keeps only the leader's series (and takes the `max` per consumer, " +
        "since an HA pair of Prometheus servers, or a leader change, can briefly show two):",
      "",
      "  ```promql",
      "  max by (account, stream_name, consumer_name) (",
      '      jetstream_consumer_num_pending{is_consumer_leader="true"}',
      '    + jetstream_consumer_num_ack_pending{is_consumer_leader="true"}',
      "  )",
      "  ```",
      "",
      "  During a leader election no series says `true` and the consumer disappears from the result, which " +
        'reads as "unknown", not 0.',
    );
  }
  const ours = verdicts.slice(1);
  if (ours.length > 0) {
    lines.push(
      `- Our exporter reports one series per consumer from either source (${ours.map((v) => `${v.who}: ${v.series}`).join("; ")}), ` +
        "the leader's numbers: the jsz source keeps only the consumers a server leads, the jetstream source asks " +
        "the JetStream API, which the leader answers. `queuescale_queue_depth` is their sum, and the generated " +
        "queries take `max by (stream, consumer)` over the exporters that report it.",
    );
  }
  lines.push("");
  return lines;
}
