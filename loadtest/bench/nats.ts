/**
 * NATS rows of the peer comparison: a throwaway nats-server with JetStream and monitoring on free
 * loopback ports, 1,000 durable consumers over 5 streams (a quarter with a backlog, some of it
 * delivered and unacknowledged), then in the same run: the server's own `/jsz?consumers=true` (and
 * the query prometheus-nats-exporter makes), a poll of each of our sources (jetstream, jsz) in this
 * process, a scrape of our exporter process per source (cached snapshot), and a scrape of
 * nats-io/prometheus-nats-exporter with `-jsz=consumers`, which reads the server on each scrape.
 * The server and its store are removed at the end, also on failure.
 */
import { existsSync } from "node:fs";
import { NameFilter, createLogger, natsAdapter, readSettings } from "@queuescale/core";
import { startNatsServer } from "@queuescale/test-support/nats-server";
import { BENCH_STREAMS, populateBenchStreams } from "../../exporter/bench/populate.js";
import {
  BENCH_NATS_SERVER,
  countSeries,
  measureOurSource,
  NATS_PEER_EXPORTER,
  startNatsPeerExporter,
} from "./exporters.js";
import { Children, fetchBody, measureCalls, type Measurement } from "./measure.js";
import { cpuSeconds, findPids } from "./proc.js";

/** The query prometheus-nats-exporter 0.20 makes with `-jsz=consumers`. */
const PEER_QUERY = "/jsz?consumers=true&config=true&raft=true";

export interface NatsRun {
  consumers: number;
  version: string;
  rows: Measurement[];
}

export async function benchNats(options: {
  consumers: number;
  calls: number;
  children: Children;
  onCleanUp: (work: () => Promise<void>) => void;
  log: (line: string) => void;
}): Promise<NatsRun> {
  const { calls, children, log } = options;
  const consumersPerStream = Math.ceil(options.consumers / BENCH_STREAMS);
  const consumers = consumersPerStream * BENCH_STREAMS;
  const server = await startNatsServer({ binary: BENCH_NATS_SERVER });
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
    await populateBenchStreams(server.url, consumersPerStream);
    log(`  nats-server ${version}: ${consumers} consumers over ${BENCH_STREAMS} streams`);
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
    rows.push(
      await measureCalls({
        target: "nats-server (server itself)",
        call: `${PEER_QUERY} (what prometheus-nats-exporter reads per scrape)`,
        calls,
        work: () => fetchBody(`${server.monitorUrl}${PEER_QUERY}`),
        brokerCpu,
      }),
    );
    const envs: Record<string, Record<string, string>> = {
      jetstream: { NATS_URL: server.url },
      jsz: { NATS_MONITOR_URL: server.monitorUrl },
    };
    for (const [kind, env] of Object.entries(envs)) {
      const sources = natsAdapter.depth.createSources(readSettings(natsAdapter.settings, { env }), {
        filter: NameFilter.all(),
        logger: createLogger("bench", "warn"),
      });
      rows.push(
        ...(await measureOurSource({
          kind,
          sources,
          exporter: { env, series: consumers, labels: {} },
          calls,
          children,
          brokerCpu,
        })),
      );
      log(`    measured our ${kind} source`);
    }
    if (existsSync(NATS_PEER_EXPORTER)) {
      const peer = await startNatsPeerExporter(children, [server.monitorUrl], consumers);
      try {
        const peerSeries = await countSeries(peer.metricsUrl, "jetstream_consumer_num_pending");
        rows.push(
          await measureCalls({
            target: "nats-io/prometheus-nats-exporter (-jsz=consumers)",
            call: "scrape of /metrics (reads /jsz on each scrape)",
            calls,
            work: () => fetchBody(peer.metricsUrl),
            processCpu: () => cpuSeconds(peer.pid),
            brokerCpu,
            rssPid: peer.pid,
            depthFigures: peerSeries,
          }),
        );
      } finally {
        await children.stop(peer.child);
      }
      log(`    measured prometheus-nats-exporter`);
    } else {
      log(`    prometheus-nats-exporter is not built (scripts/loadtest-tools.sh peers): left out`);
    }
    return { consumers, version, rows };
  } finally {
    await stop();
  }
}
