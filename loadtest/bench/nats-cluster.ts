/**
 * The correctness row of the NATS comparison: a 3-node JetStream cluster on loopback (started
 * here, stores in temporary directories, removed at the end, also on failure), one stream and one
 * durable pull consumer replicated on all three (R3), with a backlog: messages waiting and messages
 * delivered and not acknowledged. Then what each exporter reports for that one consumer:
 *   - nats-io/prometheus-nats-exporter `-jsz=consumers`, one per server as it is deployed (a
 *     sidecar), each reading its server's `/jsz`: one series per replica, the followers' included;
 *   - our exporter with the jsz source reading the three monitoring endpoints, and with the
 *     jetstream source reading the JetStream API through one server.
 * For each: how many series, what each says, and whether a sum or a max over them gives the
 * numbers the consumer's leader answers on the JetStream API.
 */
import { setTimeout as delay } from "node:timers/promises";
import { startNatsCluster } from "@queuescale/test-support/nats-server";
import { JetStreamScenario } from "@queuescale/test-support/nats/scenario";
import { parseExposition, type Sample } from "@queuescale/test-support/scrape";
import { BENCH_NATS_SERVER, startNatsPeerExporter, startOurExporter } from "./exporters.js";
import { Children, fetchBody } from "./measure.js";

const CONSUMER = "workers";
const PUBLISHED = 100;
const DELIVERED = 10;
const ACKED = 4;

/** What one exporter says about the replicated consumer. */
export interface ClusterReport {
  who: string;
  /** The family that carries messages waiting (ready) in that exporter's naming. */
  family: string;
  /** One entry per series of the consumer: where it came from, waiting and unacknowledged. */
  series: { from: string; waiting: number; unacked: number }[];
}

export interface ClusterCheck {
  version: string;
  stream: string;
  consumer: string;
  published: number;
  /** The consumer's leader and its numbers, from the JetStream API (which the leader answers). */
  leader: { server: string; waiting: number; unacked: number };
  reports: ClusterReport[];
}

function value(samples: readonly Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([label, wanted]) => sample.labels[label] === wanted),
  )?.value;
}

/**
 * The R3 stream, once the meta leader can place it: healthy members do not mean the leader has
 * heard from all of them yet, and until then it answers "no suitable peers for placement".
 */
async function createReplicated(url: string): Promise<JetStreamScenario> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await JetStreamScenario.create(url, { prefix: "qs-peers", replicas: 3 });
    } catch (error) {
      if (Date.now() > deadline || !/no suitable peers/i.test(String(error))) throw error;
      await delay(500);
    }
  }
}

export async function checkNatsCluster(options: {
  children: Children;
  onCleanUp: (work: () => Promise<void>) => void;
  log: (line: string) => void;
}): Promise<ClusterCheck> {
  const { children, log } = options;
  const cluster = await startNatsCluster(3, undefined, { binary: BENCH_NATS_SERVER });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await cluster.stop();
  };
  options.onCleanUp(stop);
  let scenario: JetStreamScenario | undefined;
  try {
    const monitorUrls = cluster.servers.map((server) => server.monitorUrl);
    const { version } = JSON.parse(await fetchBody(`${monitorUrls[0]}/varz`)) as { version: string };
    scenario = await createReplicated(cluster.servers[0]!.url);
    const { stream } = scenario;
    await scenario.addPullConsumer(CONSUMER);
    await scenario.publish("job", PUBLISHED);
    await scenario.receive(CONSUMER, DELIVERED, ACKED);
    // Let the followers apply what the leader did: the comparison is about who reports, not lag.
    await delay(2_000);
    const info = await scenario.jsm.consumers.info(stream, CONSUMER);
    const leader = {
      server: info.cluster?.leader ?? "unknown",
      waiting: info.num_pending,
      unacked: info.num_ack_pending,
    };
    log(
      `  3-node cluster (nats-server ${version}), stream ${stream} R3, consumer ${CONSUMER}: leader ` +
        `${leader.server} says ${leader.waiting} waiting, ${leader.unacked} unacknowledged`,
    );
    const reports: ClusterReport[] = [];

    // prometheus-nats-exporter as a sidecar of each server.
    const peerSeries: ClusterReport["series"] = [];
    for (const url of monitorUrls) {
      const peer = await startNatsPeerExporter(children, [url], 1);
      try {
        const samples = parseExposition(await fetchBody(peer.metricsUrl)).filter(
          (sample) => sample.labels.stream_name === stream && sample.labels.consumer_name === CONSUMER,
        );
        for (const pending of samples.filter((sample) => sample.name === "jetstream_consumer_num_pending")) {
          peerSeries.push({
            from: `${pending.labels.server_name} (is_consumer_leader="${pending.labels.is_consumer_leader}")`,
            waiting: pending.value,
            unacked:
              value(samples, "jetstream_consumer_num_ack_pending", { server_name: pending.labels.server_name! }) ?? NaN,
          });
        }
      } finally {
        await children.stop(peer.child);
      }
    }
    reports.push({
      who: "nats-io/prometheus-nats-exporter -jsz=consumers, one per server",
      family: "jetstream_consumer_num_pending / _num_ack_pending",
      series: peerSeries,
    });

    // Ours, both sources, as one exporter process each.
    for (const [kind, env] of [
      ["jsz", { NATS_MONITOR_URL: monitorUrls.join(",") }],
      ["jetstream", { NATS_URL: cluster.servers[0]!.url }],
    ] as const) {
      const exporter = await startOurExporter(children, env, 1, { stream });
      try {
        const samples = parseExposition(await fetchBody(exporter.metricsUrl)).filter(
          (sample) => sample.labels.stream === stream && sample.labels.consumer === CONSUMER,
        );
        const ready = samples.filter((sample) => sample.name === "queuescale_queue_ready_messages");
        reports.push({
          who: `queuescale exporter, ${kind} source${kind === "jsz" ? " (the three /jsz endpoints)" : " (one server)"}`,
          family: "queuescale_queue_ready_messages / _unacked_messages",
          series: ready.map((sample) => ({
            from: kind === "jsz" ? "the leader's /jsz" : "the JetStream API",
            waiting: sample.value,
            unacked: value(samples, "queuescale_queue_unacked_messages", {}) ?? NaN,
          })),
        });
      } finally {
        await children.stop(exporter.child);
      }
    }
    log(`    checked what each exporter reports for the R3 consumer`);
    return { version, stream, consumer: CONSUMER, published: PUBLISHED, leader, reports };
  } finally {
    await scenario?.dispose().catch(() => undefined);
    await stop();
  }
}
