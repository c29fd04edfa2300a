import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@queuescale/core";
import { JetStreamScenario } from "@queuescale/test-support/nats/scenario";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, queueReadings, scrape, type QueueReadings, type Sample } from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../src/exporter.js";

/** What the test does to the shared server, and so what the exporter must report. */
const WORKERS = { name: "workers", filter: "jobs", published: 12, received: 5, waitingPulls: 3 };
const RETRY = { name: "retry-ü", filter: "retry", published: 4, ackWaitMs: 1000 };
const IDLE = { name: "idle", filter: "nothing" };

let scenario: JetStreamScenario;
let firstPublished: { firstBeforeMs: number; firstAfterMs: number };
let ephemeral: string;
const running: RunningExporter[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  scenario = await JetStreamScenario.create();
  // max_ack_pending = the messages received, so the waiting pull requests stay waiting.
  await scenario.addPullConsumer(WORKERS.name, { filter: WORKERS.filter, maxAckPending: WORKERS.received });
  await scenario.addPullConsumer(RETRY.name, { filter: RETRY.filter, ackWaitMs: RETRY.ackWaitMs });
  await scenario.addPullConsumer(IDLE.name, { filter: IDLE.filter });
  ephemeral = await scenario.addEphemeralConsumer();

  firstPublished = await scenario.publish(WORKERS.filter, WORKERS.published);
  await scenario.publish(RETRY.filter, RETRY.published);
  await scenario.receive(WORKERS.name, WORKERS.received);
  scenario.leavePullsWaiting(WORKERS.name, WORKERS.waitingPulls);
  await scenario.receive(RETRY.name, RETRY.published);
  // Past the ack wait the same messages come again: redelivered.
  await new Promise((resolve) => setTimeout(resolve, RETRY.ackWaitMs * 1.5));
  await scenario.receive(RETRY.name, RETRY.published);
});

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await scenario?.dispose();
});

async function exporterWith(natsUrl: string): Promise<{ baseUrl: string; startedAtMs: number }> {
  const startedAtMs = Date.now();
  const exporter = await startExporter(
    {
      env: {
        NATS_URL: natsUrl,
        LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "1",
        POLL_TIMEOUT_SECONDS: "3",
        // Other streams on the shared server are not this test's business.
        QUEUE_INCLUDE: `^${scenario.stream}$`,
      },
    },
    createLogger("test", "silent"),
  );
  running.push(exporter);
  return { baseUrl: `http://127.0.0.1:${exporter.port}`, startedAtMs };
}

/** Per consumer of the scenario's stream, the depth families present on /metrics. */
function readingsIn(samples: Sample[]): QueueReadings {
  return queueReadings(samples, { broker: "nats", stream: scenario.stream }, "consumer");
}

function sourceUp(samples: Sample[]): number | undefined {
  return findSamples(samples, "queuescale_source_up", { broker: "nats", source: "jetstream" })[0]?.value;
}

describe("exporter reading JetStream consumers through the JetStream API", () => {
  it("publishes depth, ready, unacked, consumers, redelivered and the oldest message's age", async () => {
    const { baseUrl, startedAtMs } = await exporterWith("nats://127.0.0.1:4222");
    const samples = await eventually(
      async () => {
        const scraped = await scrape(baseUrl);
        return readingsIn(scraped)[WORKERS.name] ? scraped : undefined;
      },
      { what: "the workers consumer on /metrics" },
    );
    const scrapedAtMs = Date.now();
    const readings = readingsIn(samples);

    expect(Object.keys(readings).sort()).toEqual([IDLE.name, RETRY.name, WORKERS.name].sort());
    expect(readings).not.toHaveProperty(ephemeral);
    const { age: workersAge, ...workers } = readings[WORKERS.name]!;
    expect(workers).toEqual({
      depth: WORKERS.published,
      ready: WORKERS.published - WORKERS.received,
      unacked: WORKERS.received,
      consumers: WORKERS.waitingPulls,
      redelivered: 0,
    });
    const { age: retryAge, ...retry } = readings[RETRY.name]!;
    expect(retry).toEqual({
      depth: RETRY.published,
      ready: 0,
      unacked: RETRY.published,
      consumers: 0,
      redelivered: RETRY.published,
    });
    expect(retryAge).toBeGreaterThan(0);
    // Nothing pending: no message to date, so no age.
    expect(readings[IDLE.name]).toEqual({ depth: 0, ready: 0, unacked: 0, consumers: 0, redelivered: 0 });

    // The oldest unfinished message of `workers` is the first one published: its age at the poll
    // lies between (poll start - first stored) and (scrape - first publish started). 5 ms of slack
    // for the millisecond rounding of the two clocks' readings.
    expect(workersAge).toBeGreaterThanOrEqual((startedAtMs - firstPublished.firstAfterMs) / 1000 - 0.005);
    expect(workersAge).toBeLessThanOrEqual((scrapedAtMs - firstPublished.firstBeforeMs) / 1000 + 0.005);
    expect(sourceUp(samples)).toBe(1);
  });

  it("drops the depth series while NATS cannot be reached and brings them back after", async () => {
    const proxy = new TcpProxy(4222);
    proxies.push(proxy);
    await proxy.start();
    const { baseUrl } = await exporterWith(`nats://${proxy.address}`);
    const expected = {
      depth: WORKERS.published,
      ready: WORKERS.published - WORKERS.received,
      unacked: WORKERS.received,
    };
    const hasExpectedDepth = (samples: Sample[]) => {
      const { depth, ready, unacked } = readingsIn(samples)[WORKERS.name] ?? {};
      return depth === expected.depth && ready === expected.ready && unacked === expected.unacked;
    };
    await eventually(async () => (hasExpectedDepth(await scrape(baseUrl)) ? true : undefined), {
      what: "depth before the outage",
    });

    await proxy.cut();
    const during = await eventually(
      async () => {
        const samples = await scrape(baseUrl);
        return sourceUp(samples) === 0 ? samples : undefined;
      },
      { what: "queuescale_source_up 0" },
    );
    // /metrics still answers (scrape did not throw) and holds no depth series at all: no stale
    // value, no zero.
    expect(readingsIn(during)).toEqual({});
    expect(
      findSamples(during, "queuescale_source_poll_errors_total", { source: "jetstream", reason: "connection" })[0]
        ?.value,
    ).toBeGreaterThan(0);
    await eventually(async () => ((await fetch(`${baseUrl}/readyz`)).status === 503 ? true : undefined), {
      what: "/readyz 503",
    });

    await proxy.restore();
    const after = await eventually(
      async () => {
        const samples = await scrape(baseUrl);
        return hasExpectedDepth(samples) ? samples : undefined;
      },
      { what: "depth after the outage" },
    );
    expect(sourceUp(after)).toBe(1);
    expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
  });
});
