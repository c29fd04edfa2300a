import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@queuescale/core";
import { JetStreamScenario } from "@queuescale/test-support/nats/scenario";
import { eventually } from "@queuescale/test-support/names";
import {
  startNatsCluster,
  startNatsServer,
  type NatsTestCluster,
  type NatsTestServer,
} from "@queuescale/test-support/nats-server";
import {
  QUEUE_FAMILIES,
  findSamples,
  queueReadings,
  scrape,
  type QueueReadings,
  type Sample,
} from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../src/exporter.js";

const WORKERS = { name: "workers", filter: "jobs", published: 9, received: 4, waitingPulls: 2 };
const OTHERS = { name: "others-ü", filter: "other", published: 3 };

const running: RunningExporter[] = [];
const proxies: TcpProxy[] = [];

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
});

async function exporterWith(monitorUrls: string[]): Promise<string> {
  const exporter = await startExporter(
    {
      env: {
        NATS_MONITOR_URL: monitorUrls.join(","),
        LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "1",
        POLL_TIMEOUT_SECONDS: "3",
      },
    },
    createLogger("test", "silent"),
  );
  running.push(exporter);
  return `http://127.0.0.1:${exporter.port}`;
}

/** Per consumer of a stream, the depth families present on /metrics. */
function readingsIn(samples: Sample[], stream: string): QueueReadings {
  return queueReadings(samples, { broker: "nats", stream }, "consumer");
}

/** Sets up the same consumers on any server: workers with pending, unacked and waiting pulls. */
async function populate(scenario: JetStreamScenario): Promise<void> {
  await scenario.addPullConsumer(WORKERS.name, { filter: WORKERS.filter, maxAckPending: WORKERS.received });
  await scenario.addPullConsumer(OTHERS.name, { filter: OTHERS.filter });
  // Left out of /metrics, also by the polls that no longer ask for consumer config.
  await scenario.addEphemeralConsumer();
  await scenario.publish(WORKERS.filter, WORKERS.published);
  await scenario.publish(OTHERS.filter, OTHERS.published);
  await scenario.receive(WORKERS.name, WORKERS.received);
  scenario.leavePullsWaiting(WORKERS.name, WORKERS.waitingPulls);
}

const EXPECTED = {
  [WORKERS.name]: {
    depth: WORKERS.published,
    ready: WORKERS.published - WORKERS.received,
    unacked: WORKERS.received,
    consumers: WORKERS.waitingPulls,
    redelivered: 0,
  },
  [OTHERS.name]: { depth: OTHERS.published, ready: OTHERS.published, unacked: 0, consumers: 0, redelivered: 0 },
};

describe("exporter reading JetStream consumers from one server's /jsz", () => {
  let server: NatsTestServer;
  let scenario: JetStreamScenario;

  beforeAll(async () => {
    server = await startNatsServer();
    scenario = await JetStreamScenario.create(server.url);
    await populate(scenario);
  });

  afterAll(async () => {
    await scenario?.dispose();
    await server?.stop();
  });

  it("publishes depth, ready, unacked, consumers and redelivered, and no age", async () => {
    const baseUrl = await exporterWith([server.monitorUrl]);
    const samples = await eventually(
      async () => {
        const scraped = await scrape(baseUrl);
        return readingsIn(scraped, scenario.stream)[WORKERS.name] ? scraped : undefined;
      },
      { what: "the workers consumer on /metrics" },
    );
    expect(readingsIn(samples, scenario.stream)).toEqual(EXPECTED);
    const source = { source: `jsz@127.0.0.1:${server.monitorPort}` };
    expect(findSamples(samples, "queuescale_source_up", source)).toEqual([expect.objectContaining({ value: 1 })]);

    // From the third poll on the source leaves the consumer config out; the same must come out.
    const later = await eventually(
      async () => {
        const scraped = await scrape(baseUrl);
        const polls = findSamples(scraped, "queuescale_source_poll_duration_seconds_count", source)[0]?.value ?? 0;
        return polls >= 4 ? scraped : undefined;
      },
      { what: "four polls" },
    );
    expect(readingsIn(later, scenario.stream)).toEqual(EXPECTED);
  });

  it("drops the depth series while /jsz cannot be reached and brings them back after", async () => {
    const proxy = new TcpProxy(server.monitorPort);
    proxies.push(proxy);
    await proxy.start();
    const baseUrl = await exporterWith([`http://${proxy.address}`]);
    const source = { broker: "nats", source: `jsz@${proxy.address}` };
    const upIn = (samples: Sample[]) => findSamples(samples, "queuescale_source_up", source)[0]?.value;
    await eventually(
      async () => {
        const samples = await scrape(baseUrl);
        return upIn(samples) === 1 && readingsIn(samples, scenario.stream)[WORKERS.name] ? true : undefined;
      },
      { what: "depth before the outage" },
    );

    await proxy.cut();
    const during = await eventually(
      async () => {
        const samples = await scrape(baseUrl);
        return upIn(samples) === 0 ? samples : undefined;
      },
      { what: "queuescale_source_up 0" },
    );
    expect(readingsIn(during, scenario.stream)).toEqual({});
    expect(
      findSamples(during, "queuescale_source_poll_errors_total", { ...source, reason: "connection" })[0]?.value,
    ).toBeGreaterThan(0);
    await eventually(async () => ((await fetch(`${baseUrl}/readyz`)).status === 503 ? true : undefined), {
      what: "/readyz 503",
    });

    await proxy.restore();
    const after = await eventually(
      async () => {
        const samples = await scrape(baseUrl);
        return upIn(samples) === 1 ? samples : undefined;
      },
      { what: "source up after the outage" },
    );
    expect(readingsIn(after, scenario.stream)).toEqual(EXPECTED);
    expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
  });
});

describe("exporter reading a 3-node cluster's /jsz", () => {
  let cluster: NatsTestCluster;
  let scenario: JetStreamScenario;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    // Replicated on every member, so every /jsz lists the consumers; only the leader's count.
    scenario = await JetStreamScenario.create(cluster.servers[0]!.url, { replicas: 3 });
    await populate(scenario);
  });

  afterAll(async () => {
    await scenario?.dispose();
    await cluster?.stop();
  });

  it("reports each consumer once, with the leader's numbers", async () => {
    const baseUrl = await exporterWith(cluster.servers.map((server) => server.monitorUrl));
    const samples = await eventually(
      async () => {
        const scraped = await scrape(baseUrl);
        const readings = readingsIn(scraped, scenario.stream);
        return readings[WORKERS.name] && readings[OTHERS.name] ? scraped : undefined;
      },
      { what: "both consumers on /metrics" },
    );
    expect(readingsIn(samples, scenario.stream)).toEqual(EXPECTED);
    // The replicas are on every server, but one series per consumer reaches /metrics.
    expect(findSamples(samples, QUEUE_FAMILIES.depth, { stream: scenario.stream })).toHaveLength(2);
    expect(findSamples(samples, "queuescale_source_up", { broker: "nats" }).map((sample) => sample.value)).toEqual([
      1, 1, 1,
    ]);
  });
});
