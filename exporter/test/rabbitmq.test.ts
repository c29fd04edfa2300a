import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, freePort } from "@queuescale/core";
import {
  AMQP_BASE,
  MANAGEMENT_URL,
  PROMETHEUS_URL,
  RabbitScenario,
  countsIn as countsOfVhost,
  errorsOf,
  upOf,
  type ExpectedCounts,
} from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, parseExposition, scrape, type Sample } from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../src/exporter.js";

const QUEUES = [
  { name: "orders.v1", published: 6, held: 2 },
  { name: "with space", published: 3, held: 0 },
  { name: "ünïcødé-队列", published: 4, held: 0 },
  { name: "jobs.quorum ü", quorum: true, published: 5, held: 1 },
];

let scenario: RabbitScenario;
const running: RunningExporter[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  scenario = await RabbitScenario.create(QUEUES);
});

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await scenario?.dispose();
});

async function exporterWith(env: Record<string, string>): Promise<string> {
  const exporter = await startExporter(
    { env: { LISTEN_ADDRESS: "127.0.0.1:0", POLL_INTERVAL_SECONDS: "1", RABBITMQ_VHOSTS: scenario.vhost, ...env } },
    createLogger("test", "silent"),
  );
  running.push(exporter);
  return `http://127.0.0.1:${exporter.port}`;
}

function countsIn(samples: Sample[]) {
  return countsOfVhost(samples, scenario.vhost);
}

function expectedCounts(fields: readonly (keyof ExpectedCounts)[] = ["depth", "ready", "unacked", "consumers"]) {
  return Object.fromEntries(
    scenario.queues.map((queue) => {
      const all = scenario.expected(queue);
      return [queue.name, Object.fromEntries(fields.map((field) => [field, all[field]]))];
    }),
  );
}

/** Waits until /metrics shows `expected` (management statistics lag by up to 5 s). */
async function waitForCounts(baseUrl: string, expected: Record<string, Partial<ExpectedCounts>>) {
  return eventually(
    async () => {
      const samples = await scrape(baseUrl);
      expect(countsIn(samples)).toEqual(expected);
      return samples;
    },
    { timeoutMs: 40_000, what: "the scenario's counts on /metrics" },
  );
}

// Waits of up to 40 s on a busy machine (management statistics lag besides): more than the default.
describe("RabbitMQ sources through the exporter, against the real broker", { timeout: 120_000 }, () => {
  it("prometheus: exact depth, ready, unacked and consumers per queue", async () => {
    const baseUrl = await exporterWith({ RABBITMQ_SOURCE: "prometheus", RABBITMQ_PROMETHEUS_URL: PROMETHEUS_URL });
    const samples = await waitForCounts(baseUrl, expectedCounts());
    expect(upOf(samples, "prometheus")).toBe(1);
    // The coarse families carry no head-message timestamp.
    expect(findSamples(samples, "queuescale_queue_oldest_message_age_seconds", { vhost: scenario.vhost })).toEqual([]);
  });

  it("prometheus with two node URLs reporting the same queues: one series each, not added up", async () => {
    const proxy = new TcpProxy(Number(new URL(PROMETHEUS_URL).port));
    proxies.push(proxy);
    await proxy.start();
    const second = `http://127.0.0.1:${proxy.port}`;
    const baseUrl = await exporterWith({ RABBITMQ_PROMETHEUS_URL: `${PROMETHEUS_URL},${second}` });
    const samples = await waitForCounts(baseUrl, expectedCounts());
    expect(upOf(samples, `prometheus@127.0.0.1:${new URL(PROMETHEUS_URL).port}`)).toBe(1);
    expect(upOf(samples, `prometheus@127.0.0.1:${proxy.port}`)).toBe(1);
    expect(findSamples(samples, "queuescale_queue_depth", { vhost: scenario.vhost })).toHaveLength(QUEUES.length);
  });

  it("management: exact counts, credentials taken from RABBITMQ_URL when the management URL has none", async () => {
    const plain = new URL(MANAGEMENT_URL);
    plain.username = "";
    plain.password = "";
    const baseUrl = await exporterWith({
      RABBITMQ_SOURCE: "management",
      RABBITMQ_MANAGEMENT_URL: plain.toString(),
      RABBITMQ_URL: AMQP_BASE,
    });
    const samples = await waitForCounts(baseUrl, expectedCounts());
    expect(upOf(samples, "management")).toBe(1);
  });

  it("management: QUEUE_INCLUDE (sent to the broker) and QUEUE_EXCLUDE select queues", async () => {
    const baseUrl = await exporterWith({
      RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL,
      QUEUE_INCLUDE: "^orders\\.v\\d+$",
      QUEUE_EXCLUDE: "quorum",
    });
    const expected = expectedCounts();
    await waitForCounts(baseUrl, { "orders.v1": expected["orders.v1"]! });
  });

  it("management: a wrong password is an auth failure and no series", async () => {
    const wrong = new URL(MANAGEMENT_URL);
    wrong.password = "not-the-password";
    const baseUrl = await exporterWith({ RABBITMQ_MANAGEMENT_URL: wrong.toString() });
    const samples = await eventually(async () => {
      const samples = await scrape(baseUrl);
      const auth = findSamples(samples, "queuescale_source_poll_errors_total", {
        source: "management",
        reason: "auth",
      });
      return auth[0] && auth[0].value > 0 ? samples : undefined;
    });
    expect(upOf(samples, "management")).toBe(0);
    expect(countsIn(samples)).toEqual({});
    expect(JSON.stringify(samples)).not.toContain("not-the-password");
  });

  it("amqp: ready and consumers per listed queue (unacked is not visible), a missing queue counted as not_found", async () => {
    const names = [...QUEUES.map((queue) => queue.name), "no-such-queue"];
    const baseUrl = await exporterWith({
      RABBITMQ_SOURCE: "amqp",
      RABBITMQ_URL: scenario.amqpUrl(),
      RABBITMQ_QUEUES: names.join(","),
    });
    const expected = Object.fromEntries(
      scenario.queues.map((queue) => {
        const { ready, consumers } = scenario.expected(queue);
        return [queue.name, { depth: ready, ready, consumers }];
      }),
    );
    const samples = await waitForCounts(baseUrl, expected);
    for (const queue of QUEUES) expect(upOf(samples, `amqp:${queue.name}`)).toBe(1);
    await eventually(async () => {
      const samples = await scrape(baseUrl);
      // Polled again after the 404 closed its channel, and the others kept answering.
      const notFound = errorsOf(samples, "amqp:no-such-queue", "not_found");
      return notFound >= 2 && upOf(samples, "amqp:no-such-queue") === 0 ? true : undefined;
    });
    await waitForCounts(baseUrl, expected);
  });

  it("auto: skips a prometheus endpoint that does not answer and settles on management", async () => {
    const baseUrl = await exporterWith({
      RABBITMQ_PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}`,
      RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL,
    });
    const samples = await waitForCounts(baseUrl, expectedCounts());
    expect(upOf(samples, "auto")).toBe(1);
  });

  it("answers a scrape that asks for OpenMetrics with valid OpenMetrics, counters named right", async () => {
    const baseUrl = await exporterWith({ RABBITMQ_PROMETHEUS_URL: PROMETHEUS_URL });
    await waitForCounts(baseUrl, expectedCounts());
    const response = await fetch(`${baseUrl}/metrics`, {
      // What Prometheus sends.
      headers: {
        accept:
          "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      },
    });
    expect(response.headers.get("content-type")).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const text = await response.text();
    expect(text.endsWith("# EOF\n")).toBe(true);
    expect(text.match(/^# EOF$/gm)).toHaveLength(1);
    // OpenMetrics: the family is declared without _total, its samples carry it.
    expect(text).toMatch(/^# TYPE queuescale_source_poll_errors counter$/m);
    expect(text).toMatch(/^queuescale_source_poll_errors_total\{[^}]*source="prometheus"[^}]*\} 0$/m);
    expect(text).not.toMatch(/^# TYPE queuescale_source_poll_errors_total /m);
    const types = [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]);
    expect(new Set(types).size).toBe(types.length);
    expect(countsIn(parseExposition(text))).toEqual(expectedCounts());
    // A text-format scrape afterwards still names the counter family with _total.
    const plain = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(plain).toMatch(/^# TYPE queuescale_source_poll_errors_total counter$/m);
    expect(plain).not.toContain("# EOF");
  });
});
