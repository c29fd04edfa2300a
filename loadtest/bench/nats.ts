/**
 * NATS rows of the peer comparison: a throwaway nats-server with JetStream and monitoring on free
 * loopback ports, 1,000 durable consumers over 5 streams (a quarter with a backlog, some of it
 * delivered and unacknowledged), then in the same run: the server's own `/jsz?consumers=true`, a poll
 * of each of our sources (jetstream, jsz) in this process, and a scrape of our exporter process per
 * source (cached snapshot). The server and its store are removed at the end, also on failure.
 */
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NameFilter, createLogger, natsModule, readSettings, type DepthSource } from "@queuescale/core";
import { startNatsServer, type NatsTestServer } from "../../core/test/support/nats-server.js";
import { startOurExporter } from "./exporters.js";
import { Children, fetchBody, measureCalls, ownCpuSeconds, type Measurement } from "./measure.js";
import { cpuSeconds, findPids } from "./proc.js";

const STREAMS = 5;
const BACKLOG_EVERY = 4;
const MESSAGES_PER_BACKLOG = 8;
const UNACKED_PER_BACKLOG = 3;

export interface NatsRun {
  consumers: number;
  version: string;
  rows: Measurement[];
}

async function populate(server: NatsTestServer, consumersPerStream: number): Promise<void> {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  try {
    for (let s = 0; s < STREAMS; s++) {
      const stream = `bench-${s}`;
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      // In batches, to keep the server's API queue short.
      for (let first = 0; first < consumersPerStream; first += 25) {
        await Promise.all(
          Array.from({ length: Math.min(25, consumersPerStream - first) }, (_unused, offset) =>
            jsm.consumers.add(stream, {
              durable_name: `worker-${first + offset}`,
              ack_policy: AckPolicy.Explicit,
              ack_wait: 3_600 * 1e9,
              filter_subject: `${stream}.c${first + offset}`,
            }),
          ),
        );
      }
      for (let c = 0; c < consumersPerStream; c += BACKLOG_EVERY) {
        await Promise.all(Array.from({ length: MESSAGES_PER_BACKLOG }, () => js.publish(`${stream}.c${c}`, "job")));
        const consumer = await js.consumers.get(stream, `worker-${c}`);
        const batch = await consumer.fetch({ max_messages: UNACKED_PER_BACKLOG, expires: 2000 });
        for await (const message of batch) void message;
      }
    }
  } finally {
    await nc.close();
  }
}

export async function benchNats(options: {
  consumers: number;
  calls: number;
  children: Children;
  onCleanUp: (work: () => Promise<void>) => void;
  log: (line: string) => void;
}): Promise<NatsRun> {
  const { calls, children, log } = options;
  const consumersPerStream = Math.ceil(options.consumers / STREAMS);
  const consumers = consumersPerStream * STREAMS;
  const server = await startNatsServer();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  options.onCleanUp(stop);
  try {
    const [serverPid] = findPids([server.serverName]);
    if (serverPid === undefined) throw new Error(`cannot find the process of nats-server ${server.serverName}`);
    const brokerCpu = () => cpuSeconds(serverPid);
    const { version } = JSON.parse(await fetchBody(`${server.monitorUrl}/varz`)) as { version: string };
    await populate(server, consumersPerStream);
    log(`  nats-server ${version}: ${consumers} consumers over ${STREAMS} streams`);
    const rows: Measurement[] = [];
    rows.push(
      await measureCalls({
        target: "nats-server (server itself)",
        call: "/jsz?consumers=true",
        calls,
        work: () => fetchBody(`${server.monitorUrl}/jsz?consumers=true`),
        brokerCpu,
      }),
    );
    const envs: Record<string, Record<string, string>> = {
      jetstream: { NATS_URL: server.url },
      jsz: { NATS_MONITOR_URL: server.monitorUrl },
    };
    for (const [kind, env] of Object.entries(envs)) {
      const source: DepthSource = natsModule.createSources(readSettings(natsModule.settings, { env }), {
        filter: NameFilter.all(),
        logger: createLogger("bench", "warn"),
      })[0]!;
      let readings = 0;
      try {
        rows.push(
          await measureCalls({
            target: `queuescale exporter, ${kind} source`,
            call: "poll (background, once per interval)",
            calls,
            work: async () => {
              readings = (await source.poll(AbortSignal.timeout(60_000))).readings.length;
            },
            processCpu: ownCpuSeconds,
            brokerCpu,
          }),
        );
        rows.at(-1)!.depthFigures = readings;
      } finally {
        await source.close();
      }
      const exporter = await startOurExporter(children, env, consumers, {});
      try {
        rows.push(
          await measureCalls({
            target: `queuescale exporter, ${kind} source`,
            call: "scrape of /metrics (cached snapshot)",
            calls,
            work: () => fetchBody(exporter.metricsUrl),
            processCpu: () => cpuSeconds(exporter.pid),
            brokerCpu,
            rssPid: exporter.pid,
            depthFigures: consumers,
          }),
        );
      } finally {
        await children.stop(exporter.child);
      }
      log(`    measured our ${kind} source`);
    }
    return { consumers, version, rows };
  } finally {
    await stop();
  }
}
