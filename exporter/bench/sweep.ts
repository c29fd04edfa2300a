/**
 * `make bench-exporter` (`npm run bench -w @queuescale/exporter`, after a build, with the local
 * brokers of `make brokers`): how the exporter's cost grows with the number of queues. Prints
 * figures and writes them, with a chart, into its block of docs/benchmarks.md; asserts nothing
 * about speed.
 *
 * Per size, in one run: the broker's own endpoint next to a poll of our source (median time, the
 * poll's CPU in this process, the broker's CPU), then our exporter as its own process polling every
 * 5 s under a Prometheus-like scrape load (scrape-load.ts): its resident memory, the /metrics body,
 * and the time to serve one scrape (first and last byte, its CPU).
 *
 *   BENCH_RABBITMQ_QUEUES  sizes for RabbitMQ, prometheus source (default 1000,10000,50000; "0": none)
 *   BENCH_NATS_CONSUMERS   sizes for JetStream, jetstream and jsz sources (default 1000,10000; "0": none)
 *   BENCH_CALLS            endpoint calls and polls per size (default 100 up to 10,000, 10 above:
 *                          a median of few calls of a few milliseconds moves with anything else the machine does:
 *                          with 30 rounds, two sweeps of the same code put the jetstream source at 1,000 consumers
 *                          at 0.84x and 1.26x its endpoint, and 50 rounds at 10,000 left the jsz source's ratio
 *                          between 0.93x and 1.31x; the report's intervals say how far each ratio may be off)
 *   BENCH_LOAD_SECONDS     how long each exporter process is scraped (default 60)
 *   BENCH_REPORT           the page to write the block into (default docs/benchmarks.md; "-": print only)
 *
 * RabbitMQ queues live in a vhost of the benchmark's own, JetStream consumers on a throwaway
 * nats-server per size; both are removed after each size, on failure and on Ctrl-C.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { NameFilter, createLogger, natsAdapter, rabbitmqAdapter, readSettings } from "@queuescale/core";
import { startNatsServer } from "@queuescale/test-support/nats-server";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { AMQP_BASE, MANAGEMENT_URL, PROMETHEUS_URL } from "@queuescale/test-support/rabbitmq/scenario";
import { uniqueName } from "@queuescale/test-support/names";
import { renderVegaLite } from "../../autoscaler/src/sim/chart.js";
import { EXPORTER_BLOCK, writeBlock } from "../../loadtest/bench/doc-blocks.js";
import { BENCH_NATS_SERVER, measurePollAgainst, startOurExporter } from "../../loadtest/bench/exporters.js";
import {
  Children,
  cleanUpOnExit,
  pairedRatio,
  pairedRatioInterval,
  type Measurement,
} from "../../loadtest/bench/measure.js";
import { beamPid, cpuSeconds, findPids, machineFacts, peakRssBytes, rssBytes } from "../../loadtest/bench/proc.js";
import { ROOT } from "../../scripts/stack/index.js";
import { BENCH_STREAMS, createBenchQueues, populateBenchStreams } from "./populate.js";
import { PLAIN_HEADERS, prometheusLikeLoad, timedGet, type LoadFigures } from "./scrape-load.js";
import { ratioWithInterval, sweepChart, sweepMarkdown, type SweepResult, type SweepRow } from "./sweep-report.js";

const sizes = (raw: string | undefined, fallback: number[]) =>
  raw === undefined || raw.trim() === ""
    ? fallback
    : raw
        .split(",")
        .map((value) => Number(value.trim()))
        .filter((count) => count > 0);
const RABBIT_SIZES = sizes(process.env.BENCH_RABBITMQ_QUEUES, [1_000, 10_000, 50_000]);
const NATS_SIZES = sizes(process.env.BENCH_NATS_CONSUMERS, [1_000, 10_000]);
const callsFor = (size: number) =>
  process.env.BENCH_CALLS ? Number(process.env.BENCH_CALLS) : size <= 10_000 ? 100 : 10;
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const REPORT = process.env.BENCH_REPORT ?? join(ROOT, "docs", "benchmarks.md");
const CHART = "benchmarks-sweep.svg";
/** The exporter's default; each Prometheus scrape (every 15 s) then follows a fresh poll. */
const POLL_INTERVAL_SECONDS = "5";

const children = new Children();
const { onCleanUp, cleanUp } = cleanUpOnExit(children);

/** Runs `work` once, now or at clean-up, whichever comes first. */
function once(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = () => (done ??= work());
  onCleanUp(run);
  return run;
}

const logger = createLogger("bench", "warn");
const mib = (bytes: number) => bytes / 1024 / 1024;

/** Our exporter as its own process, polling every 5 s, under the scrape load; then its memory. */
async function exporterUnderLoad(
  env: Record<string, string>,
  expected: number,
  labels: Record<string, string>,
): Promise<Pick<SweepRow, "rssMiB" | "peakRssMiB" | "bodyBytes" | "gzipBytes" | "load">> {
  const exporter = await startOurExporter(
    children,
    { ...env, POLL_INTERVAL_SECONDS, POLL_TIMEOUT_SECONDS: "60" },
    expected,
    labels,
  );
  try {
    const body = await timedGet(exporter.metricsUrl, PLAIN_HEADERS);
    const load: LoadFigures = await prometheusLikeLoad(exporter.metricsUrl, exporter.pid, LOAD_SECONDS);
    return {
      rssMiB: mib(rssBytes(exporter.pid)),
      peakRssMiB: mib(peakRssBytes(exporter.pid)),
      bodyBytes: body.bytes,
      gzipBytes: load.prometheus.bytes,
      load,
    };
  } finally {
    await children.stop(exporter.child);
  }
}

function pollRow({
  poll: measurement,
  endpoint,
  endpointBytes,
}: Record<"poll" | "endpoint" | "endpointBytes", Measurement>) {
  return {
    calls: measurement.calls,
    endpointMs: endpoint.medianMs,
    endpointBytesMs: endpointBytes.medianMs,
    pollRatio: pairedRatio(measurement, endpoint),
    pollRatioInterval: pairedRatioInterval(measurement, endpoint),
    pollBytesRatio: pairedRatio(measurement, endpointBytes),
    endpointP99Ms: endpoint.p99Ms,
    endpointBrokerCpuMs: endpoint.brokerCpuMs,
    pollMs: measurement.medianMs,
    pollP99Ms: measurement.p99Ms,
    pollCpuMs: measurement.processCpuMs ?? NaN,
    pollBrokerCpuMs: measurement.brokerCpuMs,
  };
}

async function rabbitSize(queues: number, log: (line: string) => void): Promise<SweepRow[]> {
  const admin = new RabbitAdmin(MANAGEMENT_URL);
  const vhost = uniqueName("queuescale-sweep");
  const deleteVhost = once(() => admin.deleteVhost(vhost));
  const beam = beamPid();
  const brokerCpu = () => cpuSeconds(beam);
  try {
    await admin.createVhost(vhost);
    const started = performance.now();
    const messages = await createBenchQueues(`${AMQP_BASE}/${encodeURIComponent(vhost)}`, queues);
    log(`  ${queues} queues (${messages} messages) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // Queue statistics reach the plugins on the broker's statistics interval (5 s by default).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const query = new URLSearchParams([
      ["family", "queue_coarse_metrics"],
      ["family", "queue_consumer_count"],
      ["vhost", vhost],
    ]);
    const env = { RABBITMQ_SOURCE: "prometheus", RABBITMQ_VHOSTS: vhost, RABBITMQ_PROMETHEUS_URL: PROMETHEUS_URL };
    const sources = rabbitmqAdapter.depth.createSources(readSettings(rabbitmqAdapter.settings, { env }), {
      filter: NameFilter.all(),
      logger,
    });
    const measured = await measurePollAgainst({
      endpoint: { target: "RabbitMQ", call: "/metrics/detailed", url: `${PROMETHEUS_URL}/metrics/detailed?${query}` },
      target: "prometheus source",
      call: "poll",
      sources,
      calls: callsFor(queues),
      brokerCpu,
    });
    const { poll } = measured;
    const readings = poll.depthFigures ?? 0;
    const figures = pollRow(measured);
    log(
      `    /metrics/detailed ${figures.endpointMs.toFixed(1)} ms, poll ${figures.pollMs.toFixed(1)} ms ` +
        `(${ratioWithInterval(figures)}; ${readings} read)`,
    );
    const served = await exporterUnderLoad(env, queues, { vhost });
    log(
      `    exporter: RSS ${served.rssMiB.toFixed(0)} MiB, scrape p50 ${served.load.prometheus.lastByte.p50.toFixed(1)} ms`,
    );
    return [
      {
        broker: "RabbitMQ",
        size: queues,
        source: "prometheus",
        endpoint: "/metrics/detailed",
        readings,
        ...figures,
        ...served,
      },
    ];
  } finally {
    await deleteVhost();
  }
}

async function natsSize(consumers: number, log: (line: string) => void): Promise<SweepRow[]> {
  const server = await startNatsServer({ binary: BENCH_NATS_SERVER, startTimeoutMs: 30_000 });
  const stop = once(() => server.stop());
  try {
    const [pid] = findPids([server.serverName]);
    if (pid === undefined) throw new Error(`cannot find the process of nats-server ${server.serverName}`);
    const brokerCpu = () => cpuSeconds(pid);
    const started = performance.now();
    const population = await populateBenchStreams(server.url, Math.ceil(consumers / BENCH_STREAMS));
    log(
      `  ${population.consumers} consumers (${population.withBacklog} with a backlog) in ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const rows: SweepRow[] = [];
    for (const [kind, env] of [
      ["jetstream", { NATS_URL: server.url }],
      ["jsz", { NATS_MONITOR_URL: server.monitorUrl }],
    ] as const) {
      const sources = natsAdapter.depth.createSources(readSettings(natsAdapter.settings, { env }), {
        filter: NameFilter.all(),
        logger,
      });
      const measured = await measurePollAgainst({
        endpoint: {
          target: "nats-server",
          call: "/jsz?consumers=true",
          url: `${server.monitorUrl}/jsz?consumers=true`,
        },
        target: `${kind} source`,
        call: "poll",
        sources,
        calls: callsFor(consumers),
        brokerCpu,
      });
      const { poll } = measured;
      const readings = poll.depthFigures ?? 0;
      const figures = pollRow(measured);
      log(
        `    /jsz ${figures.endpointMs.toFixed(1)} ms, ${kind} poll ${figures.pollMs.toFixed(1)} ms ` +
          `(${ratioWithInterval(figures)}; ${readings} read)`,
      );
      const served = await exporterUnderLoad(env, population.consumers, {});
      log(
        `    exporter: RSS ${served.rssMiB.toFixed(0)} MiB, scrape p50 ${served.load.prometheus.lastByte.p50.toFixed(1)} ms`,
      );
      rows.push({
        broker: "JetStream",
        size: population.consumers,
        source: kind,
        endpoint: "/jsz?consumers=true",
        readings,
        ...figures,
        ...served,
      });
    }
    return rows;
  } finally {
    await stop();
  }
}

async function main(): Promise<void> {
  const machine = machineFacts();
  const result: SweepResult = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    machine,
    loadStart: loadavg().map((value) => value.toFixed(1)),
    loadEnd: [],
    loadSeconds: LOAD_SECONDS,
    rows: [],
    stopped: [],
  };
  const log = (line: string) => console.log(line);
  console.log(
    `exporter size sweep on ${machine.cpuModel}, ${machine.cores} cores; load average ${result.loadStart.join(" ")}; ` +
      `RabbitMQ ${RABBIT_SIZES.join(", ") || "none"}, JetStream ${NATS_SIZES.join(", ") || "none"}`,
  );
  const plan: { broker: string; size: number; run: () => Promise<SweepRow[]> }[] = [
    ...NATS_SIZES.map((size) => ({ broker: "JetStream", size, run: () => natsSize(size, log) })),
    ...RABBIT_SIZES.map((size) => ({ broker: "RabbitMQ", size, run: () => rabbitSize(size, log) })),
  ];
  for (const step of plan) {
    console.log(`\n${step.broker}, ${step.size.toLocaleString("en")}`);
    try {
      result.rows.push(...(await step.run()));
    } catch (error) {
      // A size the broker cannot hold here is a finding, not the end of the sweep.
      const reason = error instanceof Error ? error.message : String(error);
      console.error(`  stopped: ${reason}`);
      result.stopped.push({ broker: step.broker, size: step.size, reason: reason.split("\n")[0]! });
    }
  }
  result.loadEnd = loadavg().map((value) => value.toFixed(1));
  const chartRef = REPORT === "-" ? CHART : relative(dirname(REPORT), join(dirname(REPORT), CHART));
  const markdown = sweepMarkdown(result, chartRef);
  console.log(`\n${markdown}`);
  if (REPORT !== "-" && result.rows.length > 0) {
    writeFileSync(join(dirname(REPORT), CHART), await renderVegaLite(sweepChart(result), "svg"));
    writeBlock(REPORT, EXPORTER_BLOCK, markdown);
    console.log(`written to ${REPORT} and ${join(dirname(REPORT), CHART)}`);
  }
}

main()
  .then(
    () => cleanUp().then(() => 0),
    async (error: unknown) => {
      console.error(`size sweep failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      await cleanUp();
      return 1;
    },
  )
  .then((code) => process.exit(code));
