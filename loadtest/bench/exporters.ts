/**
 * The exporters under comparison, each started as its own process on a free loopback port: ours
 * (exporter/dist/main.js), kbudde/rabbitmq_exporter and nats-io/prometheus-nats-exporter (both
 * built by scripts/loadtest-tools.sh).
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { exactPattern, freePort, waitFor, type DepthSource } from "@queuescale/core";
import { findSamples, parseExposition } from "@queuescale/test-support/scrape";
import { ROOT } from "../../scripts/stack/index.js";
import {
  Children,
  fetchBody,
  fetchBytes,
  measureAlternately,
  measureCalls,
  ownCpuSeconds,
  type Measurement,
} from "./measure.js";
import { cpuSeconds } from "./proc.js";

export const OUR_EXPORTER = join(ROOT, "exporter", "dist", "main.js");
/** Node's flags for our exporter, as the image's ENTRYPOINT gives them (see the Dockerfile). */
export const OUR_EXPORTER_NODE_FLAGS = ["--optimize-for-size"];
export const KBUDDE_EXPORTER = join(ROOT, ".tools", "bin", "rabbitmq_exporter");
export const NATS_PEER_EXPORTER = join(ROOT, ".tools", "bin", "prometheus-nats-exporter");
/**
 * The nats-server the NATS rows run: the pinned build in .tools/bin (the version the dev overlay
 * runs), else the one on PATH.
 */
export const BENCH_NATS_SERVER = existsSync(join(ROOT, ".tools", "bin", "nats-server"))
  ? join(ROOT, ".tools", "bin", "nats-server")
  : "nats-server";

/** What prometheus-nats-exporter says its version is (`-version`), or "not built". */
export function natsPeerVersion(): string {
  if (!existsSync(NATS_PEER_EXPORTER)) return "not built";
  const printed = execFileSync(NATS_PEER_EXPORTER, ["-version"], { encoding: "utf8" });
  return /version\s+(\S+)/.exec(printed)?.[1] ?? "unknown";
}

export interface RunningExporter {
  child: ChildProcess;
  pid: number;
  metricsUrl: string;
}

/** Depth series for a label filter in one scrape of an exporter. */
export async function countSeries(
  metricsUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return findSamples(parseExposition(await fetchBody(metricsUrl)), name, labels).length;
}

/**
 * Our exporter with a poll interval of an hour: it polls once at start and then serves that
 * snapshot, so the scrapes measured afterwards cost only what a scrape costs (the cost of a poll is
 * measured separately). Resolves once it shows `expectedSeries` depth series.
 */
export async function startOurExporter(
  children: Children,
  env: Record<string, string>,
  expectedSeries: number,
  labels: Record<string, string>,
): Promise<RunningExporter> {
  if (!existsSync(OUR_EXPORTER)) throw new Error("build first: npx tsc -b");
  const port = await freePort();
  const child = children.spawn(process.execPath, [...OUR_EXPORTER_NODE_FLAGS, OUR_EXPORTER], {
    PATH: process.env.PATH ?? "",
    LISTEN_ADDRESS: `127.0.0.1:${port}`,
    POLL_INTERVAL_SECONDS: "3600",
    POLL_TIMEOUT_SECONDS: "120",
    LOG_LEVEL: "warn",
    ...env,
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await waitFor(
    async () => (await countSeries(metricsUrl, "queuescale_queue_depth", labels)) >= expectedSeries || undefined,
    {
      what: `our exporter to show ${expectedSeries} depth series`,
      timeoutMs: 180_000,
      intervalMs: 250,
    },
  );
  return { child, pid: child.pid!, metricsUrl };
}

/**
 * kbudde/rabbitmq_exporter reading the management API on each scrape, queue figures only (the part
 * comparable with ours), for one vhost. Resolves once a scrape shows `expectedQueues` queues.
 */
export async function startKbuddeExporter(
  children: Children,
  managementUrl: string,
  vhost: string,
  expectedQueues: number,
): Promise<RunningExporter> {
  if (!existsSync(KBUDDE_EXPORTER)) throw new Error("run scripts/loadtest-tools.sh peers first");
  const port = await freePort();
  const management = new URL(managementUrl);
  const child = children.spawn(KBUDDE_EXPORTER, [], {
    PATH: process.env.PATH ?? "",
    RABBIT_URL: `${management.protocol}//${management.host}`,
    RABBIT_USER: decodeURIComponent(management.username),
    RABBIT_PASSWORD: decodeURIComponent(management.password),
    PUBLISH_ADDR: "127.0.0.1",
    PUBLISH_PORT: String(port),
    RABBIT_EXPORTERS: "queue",
    INCLUDE_VHOST: exactPattern(vhost),
    RABBIT_TIMEOUT: "120",
    LOG_LEVEL: "warn",
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await waitFor(
    async () => (await countSeries(metricsUrl, "rabbitmq_queue_messages", { vhost })) >= expectedQueues || undefined,
    {
      what: `rabbitmq_exporter to show ${expectedQueues} queues`,
      timeoutMs: 180_000,
      intervalMs: 250,
    },
  );
  return { child, pid: child.pid!, metricsUrl };
}

/**
 * A poll of `sources` in this process (`calls` times) in turns with calls of the broker's own
 * endpoint, read as text as any client reads it and as bytes only (the floor under any poll that
 * parses the answer), for ratios that the machine's other work moves less; closes `sources`.
 */
export async function measurePollAgainst(options: {
  endpoint: { target: string; call: string; url: string };
  target: string;
  call: string;
  sources: readonly DepthSource[];
  calls: number;
  brokerCpu: () => number;
}): Promise<{ endpoint: Measurement; endpointBytes: Measurement; poll: Measurement }> {
  const { sources, brokerCpu, endpoint } = options;
  let readings = 0;
  try {
    const [text, bytes, poll] = await measureAlternately(options.calls, [
      { target: endpoint.target, call: endpoint.call, brokerCpu, work: () => fetchBody(endpoint.url) },
      {
        target: endpoint.target,
        call: `${endpoint.call}, bytes only`,
        brokerCpu,
        work: () => fetchBytes(endpoint.url),
      },
      {
        target: options.target,
        call: options.call,
        brokerCpu,
        processCpu: ownCpuSeconds,
        work: async () => {
          const snapshots = await Promise.all(sources.map((source) => source.poll(AbortSignal.timeout(120_000))));
          readings = snapshots.reduce((total, snapshot) => total + snapshot.readings.length, 0);
        },
        depthFigures: () => readings,
      },
    ]);
    return { endpoint: text!, endpointBytes: bytes!, poll: poll! };
  } finally {
    await Promise.all(sources.map((source) => source.close()));
  }
}

/**
 * Polls `sources` in this process `calls` times (what our exporter's background poller pays per
 * interval), then closes them; `depthFigures` is how many readings one poll returned.
 */
export async function measurePoll(options: {
  target: string;
  call: string;
  sources: readonly DepthSource[];
  calls: number;
  brokerCpu: () => number;
}): Promise<Measurement> {
  const { sources } = options;
  let readings = 0;
  try {
    const poll = await measureCalls({
      ...options,
      work: async () => {
        const snapshots = await Promise.all(sources.map((source) => source.poll(AbortSignal.timeout(120_000))));
        readings = snapshots.reduce((total, snapshot) => total + snapshot.readings.length, 0);
      },
      processCpu: ownCpuSeconds,
    });
    poll.depthFigures = readings;
    return poll;
  } finally {
    await Promise.all(sources.map((source) => source.close()));
  }
}

/**
 * The two rows of one of our sources: a poll of `sources` run in this process (what our exporter's
 * background poller pays per interval), then a scrape of our exporter process reading the same
 * source from `exporter.env`, served from its cached snapshot. Closes `sources`.
 */
export async function measureOurSource(options: {
  kind: string;
  sources: readonly DepthSource[];
  exporter: { env: Record<string, string>; series: number; labels: Record<string, string>; note?: string };
  calls: number;
  children: Children;
  brokerCpu: () => number;
}): Promise<Measurement[]> {
  const { kind, sources, exporter: wanted, calls, children, brokerCpu } = options;
  const target = `queuescale exporter, ${kind} source`;
  const poll = await measurePoll({ target, call: "poll (background, once per interval)", sources, calls, brokerCpu });
  const exporter = await startOurExporter(children, wanted.env, wanted.series, wanted.labels);
  try {
    const scrape = await measureCalls({
      target,
      call: "scrape of /metrics (cached snapshot)",
      calls,
      work: () => fetchBody(exporter.metricsUrl),
      processCpu: () => cpuSeconds(exporter.pid),
      brokerCpu,
      rssPid: exporter.pid,
      depthFigures: wanted.series,
      note: wanted.note,
    });
    return [poll, scrape];
  } finally {
    await children.stop(exporter.child);
  }
}

/**
 * nats-io/prometheus-nats-exporter with `-jsz=consumers`: on each scrape it reads
 * `/jsz?consumers=true&config=true&raft=true` from every server it is given and renders one series
 * per consumer replica it finds there. Resolves once a scrape shows `expectedSeries` consumer series.
 */
export async function startNatsPeerExporter(
  children: Children,
  monitorUrls: readonly string[],
  expectedSeries: number,
): Promise<RunningExporter> {
  if (!existsSync(NATS_PEER_EXPORTER)) throw new Error("run scripts/loadtest-tools.sh peers first");
  const port = await freePort();
  const child = children.spawn(
    NATS_PEER_EXPORTER,
    ["-jsz=consumers", "-addr", "127.0.0.1", "-port", String(port), ...monitorUrls],
    { PATH: process.env.PATH ?? "" },
  );
  child.stdout!.resume();
  child.stderr!.resume();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await waitFor(
    async () => (await countSeries(metricsUrl, "jetstream_consumer_num_pending")) >= expectedSeries || undefined,
    { what: `prometheus-nats-exporter to show ${expectedSeries} consumer series`, timeoutMs: 180_000, intervalMs: 250 },
  );
  return { child, pid: child.pid!, metricsUrl };
}
