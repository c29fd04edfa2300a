/**
 * Benchmark of the RabbitMQ depth sources (`npm run bench -w @queuescale/exporter`, after a build,
 * with the local broker of `make brokers`). Prints figures; asserts nothing about speed.
 *
 * Creates BENCH_QUEUES (default 10,000) queues in a vhost of its own, one in ten with a few
 * messages, then for each source kind reports:
 *   - poll time (median, p99 over several polls) next to the broker's own endpoint time measured
 *     in the same run (a raw fetch of /metrics/detailed; the paged /api/queues; bare passive declares);
 *   - `/metrics` latency (p50, p99) under 50 concurrent scrapers while the exporter polls;
 *   - the exporter's resident memory (it runs as its own process, exporter/dist/main.js).
 * Deletes the vhost, and with it every queue it made, at the end, on failure and on Ctrl-C.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { NameFilter, createLogger, rabbitmqAdapter, readSettings, type DepthSource } from "@queuescale/core";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { AMQP_BASE, MANAGEMENT_URL, PROMETHEUS_URL } from "@queuescale/test-support/rabbitmq/scenario";
import { uniqueName } from "@queuescale/test-support/names";
import { parseExposition } from "@queuescale/test-support/scrape";
import { MESSAGES_EVERY, benchQueueName, createBenchQueues } from "./populate.js";

const QUEUES = Number(process.env.BENCH_QUEUES ?? 10_000);
const POLLS = Number(process.env.BENCH_POLLS ?? 15);
const SCRAPERS = 50;
const SCRAPE_SECONDS = 10;
/**
 * The amqp source is one source per listed queue (so a missing queue is counted on its own), each
 * with its own health series: it is meant for a short RABBITMQ_QUEUES list. Its poll time is
 * measured over every queue; the exporter process under scrape load reads this many of them.
 */
const AMQP_EXPORTER_QUEUES = Number(process.env.BENCH_AMQP_EXPORTER_QUEUES ?? 100);
const TARGETS = { pollVsBroker: 1.5, metricsP99Ms: 25, rssMb: 150 };
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

const admin = new RabbitAdmin(MANAGEMENT_URL);
const vhost = uniqueName("queuescale-bench");
const children = new Set<ChildProcess>();

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function repeat(times: number, work: () => Promise<unknown>): Promise<number[]> {
  const durations: number[] = [];
  for (let index = 0; index < times; index++) durations.push(await timed(work));
  return durations;
}

const vhostUrl = () => `${AMQP_BASE}/${encodeURIComponent(vhost)}`;

/** The broker's own answer times, fetched as the sources fetch them. */
const brokerEndpoints = {
  async prometheus(): Promise<void> {
    const query = new URLSearchParams([
      ["family", "queue_coarse_metrics"],
      ["family", "queue_consumer_count"],
      ["vhost", vhost],
    ]);
    const response = await fetch(`${PROMETHEUS_URL}/metrics/detailed?${query}`);
    await response.text();
  },
  async management(): Promise<void> {
    // Page after page, as a plain client walks /api/queues.
    for (let page = 1; ; page++) {
      const body = (await admin.queuePage(vhost, page, 500)) as { page_count: number };
      if (page >= body.page_count) return;
    }
  },
  amqp: async (): Promise<void> => {
    const connection = await amqp.connect(vhostUrl());
    try {
      const channels = await Promise.all(Array.from({ length: 8 }, () => connection.createChannel()));
      let next = 0;
      await Promise.all(
        channels.map(async (channel) => {
          while (next < QUEUES) await channel.checkQueue(benchQueueName(next++));
        }),
      );
    } finally {
      await connection.close();
    }
  },
};

type Kind = keyof typeof brokerEndpoints;

function settingsFor(kind: Kind, amqpQueues = QUEUES): Record<string, string> {
  const env: Record<string, string> = { RABBITMQ_SOURCE: kind, RABBITMQ_VHOSTS: vhost };
  if (kind === "prometheus") env.RABBITMQ_PROMETHEUS_URL = PROMETHEUS_URL;
  if (kind === "management") env.RABBITMQ_MANAGEMENT_URL = MANAGEMENT_URL;
  if (kind === "amqp") {
    env.RABBITMQ_URL = vhostUrl();
    env.RABBITMQ_QUEUES = Array.from({ length: amqpQueues }, (_unused, index) => benchQueueName(index)).join(",");
  }
  return env;
}

/** Polls every source of a kind once, together, as the exporter's pollers do; returns the readings. */
async function pollKind(sources: readonly DepthSource[]): Promise<number> {
  const snapshots = await Promise.all(sources.map((source) => source.poll(AbortSignal.timeout(60_000))));
  return snapshots.reduce((total, snapshot) => total + snapshot.readings.length, 0);
}

async function startExporterProcess(env: Record<string, string>): Promise<{ child: ChildProcess; baseUrl: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      LISTEN_ADDRESS: "127.0.0.1:0",
      POLL_INTERVAL_SECONDS: "2",
      POLL_TIMEOUT_SECONDS: "30",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((candidate) => candidate.includes("queuescale-exporter started"));
      if (line) resolve(Number((JSON.parse(line) as { listen: string }).listen.split(":").pop()));
    });
    child.on("exit", (code) => reject(new Error(`exporter exited with ${code}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}` };
}

async function depthSeries(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return parseExposition(text).filter(
    (sample) => sample.name === "queuescale_queue_depth" && sample.labels.vhost === vhost,
  ).length;
}

async function scrapeLoad(baseUrl: string): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = performance.now() + SCRAPE_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: SCRAPERS }, async () => {
      while (performance.now() < deadline) {
        latencies.push(
          await timed(async () => {
            const response = await fetch(`${baseUrl}/metrics`);
            await response.text();
          }),
        );
      }
    }),
  );
  return latencies;
}

async function metricValue(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number[]> {
  const samples = parseExposition(await (await fetch(`${baseUrl}/metrics`)).text());
  return samples
    .filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .map((sample) => sample.value);
}

async function benchKind(kind: Kind): Promise<void> {
  const env = settingsFor(kind);
  const settings = readSettings(rabbitmqAdapter.settings, { env });
  const sources = rabbitmqAdapter.depth.createSources(settings, {
    filter: NameFilter.all(),
    logger: createLogger("bench", "warn"),
  });
  let exporter: ChildProcess | undefined;
  try {
    const seen = await pollKind(sources); // warm-up: connections, JIT
    const pollTimes = await repeat(POLLS, () => pollKind(sources));
    const brokerTimes = await repeat(POLLS, brokerEndpoints[kind]);
    const exported = kind === "amqp" ? Math.min(AMQP_EXPORTER_QUEUES, QUEUES) : QUEUES;
    const { child, baseUrl } = await startExporterProcess(kind === "amqp" ? settingsFor(kind, exported) : env);
    exporter = child;
    for (let waited = 0; (await depthSeries(baseUrl)) < exported; waited++) {
      if (waited > 300) throw new Error(`${kind}: the exporter never showed ${exported} depth series`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Resident memory while polling, then after the scrape load (which holds 50 responses at once).
    const [rssPolling] = await metricValue(baseUrl, "process_resident_memory_bytes");
    const latencies = await scrapeLoad(baseUrl);
    const [rss] = await metricValue(baseUrl, "process_resident_memory_bytes");
    const bodyBytes = (await (await fetch(`${baseUrl}/metrics`)).arrayBuffer()).byteLength;
    const pollCounts = await metricValue(baseUrl, "queuescale_source_poll_duration_seconds_count");
    const errors = (await metricValue(baseUrl, "queuescale_source_poll_errors_total")).reduce((a, b) => a + b, 0);

    const pollMedian = quantile(pollTimes, 0.5);
    const brokerMedian = quantile(brokerTimes, 0.5);
    const mb = (bytes: number | undefined) => ((bytes ?? NaN) / 1024 / 1024).toFixed(0);
    console.log(`\n${kind} (${sources.length} source${sources.length === 1 ? "" : "s"}, ${seen} queues read)`);
    console.log(
      `  poll:            median ${ms(pollMedian)}, p99 ${ms(quantile(pollTimes, 0.99))} over ${POLLS} polls`,
    );
    console.log(
      `  broker endpoint: median ${ms(brokerMedian)}, p99 ${ms(quantile(brokerTimes, 0.99))}` +
        `  -> poll/broker ${(pollMedian / brokerMedian).toFixed(2)}x (target <= ${TARGETS.pollVsBroker}x)`,
    );
    console.log(
      `  /metrics (${exported} queues): p50 ${ms(quantile(latencies, 0.5))}, p99 ${ms(quantile(latencies, 0.99))} over ` +
        `${latencies.length} scrapes by ${SCRAPERS} scrapers in ${SCRAPE_SECONDS} s (target p99 <= ${TARGETS.metricsP99Ms} ms)`,
    );
    console.log(
      `  exporter RSS:    ${mb(rssPolling)} MB polling, ${mb(rss)} MB after the scrape load ` +
        `(target <= ${TARGETS.rssMb} MB); /metrics body ${(bodyBytes / 1e6).toFixed(1)} MB; ` +
        `${pollCounts.reduce((a, b) => a + b, 0)} background polls, ${errors} failed`,
    );
  } finally {
    exporter?.kill("SIGTERM");
    await Promise.all(sources.map((source) => source.close()));
  }
}

let cleaned: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaned ??= (async () => {
    for (const child of children) child.kill("SIGTERM");
    // Deleting the vhost deletes every queue in it.
    await admin.deleteVhost(vhost).catch((error: unknown) => console.error(`could not delete vhost ${vhost}:`, error));
  })();
  return cleaned;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: deleting the bench vhost`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error("build first: npx tsc -b");
  const kinds = (process.env.BENCH_KINDS?.split(",") ?? ["prometheus", "management", "amqp"]) as Kind[];
  console.log(`RabbitMQ sources benchmark: ${QUEUES} queues in vhost ${vhost}`);
  await admin.createVhost(vhost);
  try {
    const created = await timed(async () => {
      const messages = await createBenchQueues(vhostUrl(), QUEUES);
      console.log(`  ${messages} messages in ${Math.ceil(QUEUES / MESSAGES_EVERY)} of them`);
    });
    console.log(`  created in ${ms(created)}`);
    // Queue statistics reach the plugins on the broker's statistics interval (5 s by default).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    for (const kind of kinds) await benchKind(kind);
  } finally {
    await cleanUp();
  }
}

await main();
