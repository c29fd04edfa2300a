/**
 * Benchmark of the NATS depth sources (`npm run bench -w @queuescale/exporter`, after a build).
 *
 * A throwaway nats-server with monitoring holds 1,000 durable consumers over a handful of streams,
 * a quarter of them with a backlog (some of it delivered and unacknowledged). Prints, per source:
 *   - poll time (median, p99) next to the server's own `/jsz?consumers=true` time in the same run;
 *   - `/metrics` latency (p50, p99) under 50 concurrent scrapers, each scraping once a second (a
 *     heavy Prometheus set-up: 50 scrapes/s against the usual one per 15-30 s), while the exporter
 *     polls every second;
 *   - the exporter's resident memory.
 * The exporter runs as its own process (exporter/dist/main.js), so its RSS is its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { NameFilter, createLogger, natsAdapter, readSettings, type DepthSource } from "@queuescale/core";
import { startNatsServer, type NatsTestServer } from "@queuescale/test-support/nats-server";
import { parseExposition } from "@queuescale/test-support/scrape";
import { BENCH_STREAMS, populateBenchStreams } from "./populate.js";

const CONSUMERS_PER_STREAM = 200;
const POLL_ROUNDS = 30;
const SCRAPERS = 50;
const SCRAPE_SECONDS = 10;
const SCRAPE_INTERVAL_MS = 1000;

const TARGETS = { pollVsServer: 1.5, metricsP99Ms: 25, rssMb: 150 };

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await work();
  return [performance.now() - started, result];
}

/** The server's own endpoint, plain and with the consumer config the jsz source asks for at first. */
const SERVER_QUERIES = {
  server: "/jsz?consumers=true",
  serverFull: "/jsz?accounts=true&streams=true&consumers=true&config=true",
} as const;

async function serverMs(server: NatsTestServer, path: string): Promise<number> {
  const [elapsed] = await timed(async () => {
    const response = await fetch(`${server.monitorUrl}${path}`);
    await response.arrayBuffer();
  });
  return elapsed;
}

async function pollTimes(server: NatsTestServer) {
  const logger = createLogger("bench", "silent");
  const create = (env: Record<string, string>): DepthSource =>
    natsAdapter.depth.createSources(readSettings(natsAdapter.settings, { env }), {
      filter: NameFilter.all(),
      logger,
    })[0]!;
  const sources = {
    jetstream: create({ NATS_URL: server.url }),
    jsz: create({ NATS_MONITOR_URL: server.monitorUrl }),
  };
  const times = { server: [] as number[], serverFull: [] as number[], jetstream: [] as number[], jsz: [] as number[] };
  const readings = { jetstream: 0, jsz: 0, withAge: 0, firstJetstreamMs: 0 };
  // One warm-up round (connection set-up, JIT), then rounds that interleave the three so they
  // see the same machine load.
  for (let round = 0; round <= POLL_ROUNDS; round++) {
    const serverPlainMs = await serverMs(server, SERVER_QUERIES.server);
    const serverFullMs = await serverMs(server, SERVER_QUERIES.serverFull);
    const [jetstreamMs, jetstreamSnapshot] = await timed(() => sources.jetstream.poll(AbortSignal.timeout(30_000)));
    const [jszMs, jszSnapshot] = await timed(() => sources.jsz.poll(AbortSignal.timeout(30_000)));
    if (round === 0) {
      readings.jetstream = jetstreamSnapshot.readings.length;
      readings.jsz = jszSnapshot.readings.length;
      readings.withAge = jetstreamSnapshot.readings.filter((r) => r.oldestMessageAgeSeconds !== undefined).length;
      readings.firstJetstreamMs = jetstreamMs;
      continue;
    }
    times.server.push(serverPlainMs);
    times.serverFull.push(serverFullMs);
    times.jetstream.push(jetstreamMs);
    times.jsz.push(jszMs);
  }
  await Promise.all(Object.values(sources).map((source) => source.close()));
  return { times, readings };
}

/** Starts the built exporter on a free port and resolves its /metrics base URL once it has polled. */
async function startExporterProcess(env: Record<string, string>): Promise<{ child: ChildProcess; baseUrl: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, LISTEN_ADDRESS: "127.0.0.1:0", POLL_INTERVAL_SECONDS: "1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const match = /"listen":"[^"]*:(\d+)"/.exec(buffered);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`exporter exited with ${code}`)));
  });
  child.stdout!.resume();
  const baseUrl = `http://127.0.0.1:${port}`;
  for (;;) {
    const response = await fetch(`${baseUrl}/readyz`);
    if (response.ok) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { child, baseUrl };
}

async function scrapeUnderLoad(baseUrl: string) {
  const latencies: number[] = [];
  const until = performance.now() + SCRAPE_SECONDS * 1000;
  let depthSeries = 0;
  await Promise.all(
    Array.from({ length: SCRAPERS }, async () => {
      // Scrapers start spread over one interval, as independent Prometheus servers would.
      let next = performance.now() + Math.random() * SCRAPE_INTERVAL_MS;
      while (next < until) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
        next += SCRAPE_INTERVAL_MS;
        const [elapsed, text] = await timed(async () => (await fetch(`${baseUrl}/metrics`)).text());
        latencies.push(elapsed);
        if (depthSeries === 0) {
          depthSeries = parseExposition(text).filter((sample) => sample.name === "queuescale_queue_depth").length;
        }
      }
    }),
  );
  const samples = parseExposition(await (await fetch(`${baseUrl}/metrics`)).text());
  const rss = samples.find((sample) => sample.name === "process_resident_memory_bytes")?.value ?? NaN;
  const pollSum = samples.find(
    (sample) => sample.name === "queuescale_source_poll_duration_seconds_sum" && sample.labels.broker === "nats",
  );
  const pollCount = samples.find(
    (sample) => sample.name === "queuescale_source_poll_duration_seconds_count" && sample.labels.broker === "nats",
  );
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    scrapes: latencies.length,
    depthSeries,
    rssMb: rss / 1024 / 1024,
    meanPollMs: pollSum && pollCount ? (pollSum.value / pollCount.value) * 1000 : NaN,
  };
}

function verdict(ok: boolean): string {
  return ok ? "ok" : "MISSED";
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error("exporter/dist/main.js is missing: run `npx tsc -b` (make build) first");
  const server = await startNatsServer();
  const children: ChildProcess[] = [];
  try {
    const [setupMs, population] = await timed(() => populateBenchStreams(server.url, CONSUMERS_PER_STREAM));
    console.log(
      `nats bench: ${population.consumers} durable consumers over ${BENCH_STREAMS} streams, ` +
        `${population.withBacklog} with backlog (set up in ${(setupMs / 1000).toFixed(1)} s)`,
    );

    // Latencies mean little without the machine's state: print it next to them.
    const load = () => `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`;
    console.log(`machine: ${load()}`);
    const { times, readings } = await pollTimes(server);
    const serverMedian = quantile(times.server, 0.5);
    console.log(`\npoll time over ${POLL_ROUNDS} rounds (median / p99):`);
    console.log(
      `  server ${SERVER_QUERIES.server.padEnd(22)} ${ms(serverMedian)} / ${ms(quantile(times.server, 0.99))}`,
    );
    console.log(
      `  server, with config=true      ${ms(quantile(times.serverFull, 0.5))} / ${ms(quantile(times.serverFull, 0.99))}` +
        ` (what the jsz source asks only while it meets consumers it does not know)`,
    );
    for (const name of ["jetstream", "jsz"] as const) {
      const median = quantile(times[name], 0.5);
      const ratio = median / serverMedian;
      console.log(
        `  ${name.padEnd(28)} ${ms(median)} / ${ms(quantile(times[name], 0.99))}  ` +
          `(${ratio.toFixed(2)}× the server; target ≤ ${TARGETS.pollVsServer}×: ${verdict(ratio <= TARGETS.pollVsServer)})`,
      );
    }
    console.log(
      `  jetstream, first poll (every age looked up, none remembered): ${ms(readings.firstJetstreamMs)}; ` +
        `later polls look up only consumers whose ack floor moved`,
    );
    console.log(
      `  readings: jetstream ${readings.jetstream} (${readings.withAge} with oldest-message age), jsz ${readings.jsz}`,
    );

    for (const [name, env] of [
      ["jetstream", { NATS_URL: server.url }],
      ["jsz", { NATS_MONITOR_URL: server.monitorUrl }],
    ] as const) {
      const { child, baseUrl } = await startExporterProcess(env);
      children.push(child);
      const load = await scrapeUnderLoad(baseUrl);
      console.log(
        `\nexporter (${name} source, polling every 1 s, mean poll ${ms(load.meanPollMs)}), ` +
          `${SCRAPERS} scrapers each every ${SCRAPE_INTERVAL_MS / 1000} s for ${SCRAPE_SECONDS} s, ` +
          `${load.scrapes} scrapes of ${load.depthSeries} depth series:`,
      );
      console.log(
        `  /metrics p50 ${ms(load.p50)}, p99 ${ms(load.p99)} (target ≤ ${TARGETS.metricsP99Ms} ms: ` +
          `${verdict(load.p99 <= TARGETS.metricsP99Ms)})`,
      );
      console.log(
        `  RSS ${load.rssMb.toFixed(0)} MB (target ≤ ${TARGETS.rssMb} MB: ${verdict(load.rssMb <= TARGETS.rssMb)})`,
      );
      child.kill("SIGTERM");
    }
    console.log(`\nmachine at the end: ${load()}`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    await server.stop();
  }
}

await main();
