/**
 * RabbitMQ rows of the peer comparison for one queue count: queues made in a vhost of their own
 * (one in ten holding a few messages), then, all in the same run and one after the other:
 *   - the plugin's own endpoints scraped directly (/metrics/detailed with the families our
 *     prometheus source asks for, /metrics/per-object, the management API's paged /api/queues);
 *   - a poll of each of our sources (prometheus, management, amqp with an explicit queue list),
 *     run in this process: what our exporter's background poller pays per interval;
 *   - a scrape of our exporter process per source, served from its cached snapshot;
 *   - a scrape of kbudde/rabbitmq_exporter, which queries the management API on each scrape.
 */
import { NameFilter, createLogger, rabbitmqAdapter, readSettings } from "@queuescale/core";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { AMQP_BASE, MANAGEMENT_URL, PROMETHEUS_URL } from "@queuescale/test-support/rabbitmq/scenario";
import { uniqueName } from "@queuescale/test-support/names";
import { parseExposition } from "@queuescale/test-support/scrape";
import { benchQueueName, createBenchQueues } from "../../exporter/bench/populate.js";
import { measureOurSource, startKbuddeExporter } from "./exporters.js";
import { Children, fetchBody, measureCalls, type Measurement } from "./measure.js";
import { beamPid, cpuSeconds } from "./proc.js";

/** The amqp source is one source per listed queue (meant for short lists); its exporter process gets at most this many. */
const AMQP_EXPORTER_QUEUES = 1_000;

export interface RabbitRun {
  queues: number;
  messages: number;
  /** Queues on the whole node once the benchmark's were made (per-object and kbudde read them all). */
  nodeQueues: number;
  /** The version kbudde/rabbitmq_exporter reports in its build-info series. */
  kbuddeVersion: string;
  rows: Measurement[];
}

export async function benchRabbitmq(options: {
  queues: number;
  calls: number;
  children: Children;
  /** Registers clean-up work that must run even on failure or Ctrl-C. */
  onCleanUp: (work: () => Promise<void>) => void;
  log: (line: string) => void;
}): Promise<RabbitRun> {
  const { queues, calls, children, log } = options;
  const admin = new RabbitAdmin(MANAGEMENT_URL);
  const vhost = uniqueName("queuescale-peers");
  const vhostUrl = `${AMQP_BASE}/${encodeURIComponent(vhost)}`;
  let deleted = false;
  const deleteVhost = async () => {
    if (deleted) return;
    deleted = true;
    // Deleting the vhost deletes every queue in it.
    await admin.deleteVhost(vhost);
  };
  options.onCleanUp(deleteVhost);
  const beam = beamPid();
  const brokerCpu = () => cpuSeconds(beam);
  const rows: Measurement[] = [];
  try {
    await admin.createVhost(vhost);
    const messages = await createBenchQueues(vhostUrl, queues);
    const overview = (await (await admin.request("GET", "/overview")).json()) as { object_totals: { queues: number } };
    const nodeQueues = overview.object_totals.queues;
    log(`  ${queues} queues in vhost ${vhost}, ${messages} messages; ${nodeQueues} queues on the node`);
    // Queue statistics reach the plugins on the broker's statistics interval (5 s by default).
    await new Promise((resolve) => setTimeout(resolve, 6_000));

    const detailedQuery = new URLSearchParams([
      ["family", "queue_coarse_metrics"],
      ["family", "queue_consumer_count"],
      ["vhost", vhost],
    ]);
    const broker = "RabbitMQ (broker itself)";
    rows.push(
      await measureCalls({
        target: broker,
        call: "/metrics/detailed (our families, this vhost)",
        calls,
        work: () => fetchBody(`${PROMETHEUS_URL}/metrics/detailed?${detailedQuery}`),
        brokerCpu,
      }),
    );
    log(`    measured /metrics/detailed`);
    rows.push(
      await measureCalls({
        target: broker,
        call: "/metrics/per-object (every object of the node)",
        calls,
        work: () => fetchBody(`${PROMETHEUS_URL}/metrics/per-object`),
        brokerCpu,
      }),
    );
    log(`    measured /metrics/per-object`);
    rows.push(
      await measureCalls({
        target: broker,
        call: "management /api/queues, pages of 500",
        calls,
        work: async () => {
          for (let page = 1; ; page++) {
            const body = (await admin.queuePage(vhost, page, 500)) as { page_count: number };
            if (page >= body.page_count) return;
          }
        },
        brokerCpu,
      }),
    );
    log(`    measured /api/queues`);

    const allQueues = Array.from({ length: queues }, (_unused, index) => benchQueueName(index));
    const settingsFor = (kind: string, listed: number): Record<string, string> => {
      const env: Record<string, string> = { RABBITMQ_SOURCE: kind, RABBITMQ_VHOSTS: vhost };
      if (kind === "prometheus") env.RABBITMQ_PROMETHEUS_URL = PROMETHEUS_URL;
      if (kind === "management") env.RABBITMQ_MANAGEMENT_URL = MANAGEMENT_URL;
      if (kind === "amqp") {
        env.RABBITMQ_URL = vhostUrl;
        env.RABBITMQ_QUEUES = allQueues.slice(0, listed).join(",");
      }
      return env;
    };
    for (const kind of ["prometheus", "management", "amqp"]) {
      const sources = rabbitmqAdapter.depth.createSources(
        readSettings(rabbitmqAdapter.settings, { env: settingsFor(kind, queues) }),
        { filter: NameFilter.all(), logger: createLogger("bench", "warn") },
      );
      const exported = kind === "amqp" ? Math.min(queues, AMQP_EXPORTER_QUEUES) : queues;
      rows.push(
        ...(await measureOurSource({
          kind,
          sources,
          exporter: {
            env: settingsFor(kind, exported),
            series: exported,
            labels: { vhost },
            note: exported < queues ? `exporter process lists ${exported} queues` : undefined,
          },
          calls,
          children,
          brokerCpu,
        })),
      );
      log(`    measured a poll of the ${kind} source and our exporter's scrape`);
    }

    const kbudde = await startKbuddeExporter(children, MANAGEMENT_URL, vhost, queues);
    let kbuddeVersion = "unknown";
    try {
      const buildInfo = parseExposition(await fetchBody(kbudde.metricsUrl)).find(
        (sample) => sample.name === "rabbitmq_exporter_build_info",
      );
      kbuddeVersion = buildInfo?.labels.version || kbuddeVersion;
      rows.push(
        await measureCalls({
          target: "kbudde/rabbitmq_exporter (queue exporter)",
          call: "scrape of /metrics (queries the management API)",
          calls,
          work: () => fetchBody(kbudde.metricsUrl),
          processCpu: () => cpuSeconds(kbudde.pid),
          brokerCpu,
          rssPid: kbudde.pid,
          depthFigures: queues,
        }),
      );
    } finally {
      await options.children.stop(kbudde.child);
    }
    log(`    measured kbudde/rabbitmq_exporter`);
    return { queues, messages, nodeQueues, kbuddeVersion, rows };
  } finally {
    await deleteVhost();
  }
}
