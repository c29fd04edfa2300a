import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@queuescale/core";
import {
  MANAGEMENT_URL,
  PROMETHEUS_URL,
  RabbitScenario,
  countsIn,
  errorsOf,
  upOf,
  type ExpectedCounts,
} from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";
import { scrape } from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../src/exporter.js";

const QUEUES = [
  { name: "outage.q", published: 3, held: 1 },
  { name: "second queue ü", published: 2, held: 0 },
];

let scenario: RabbitScenario;
let exporter: RunningExporter | undefined;
let proxy: TcpProxy | undefined;

beforeAll(async () => {
  scenario = await RabbitScenario.create(QUEUES);
});

afterEach(async () => {
  await exporter?.stop();
  await proxy?.close();
  exporter = undefined;
  proxy = undefined;
});

afterAll(async () => {
  await scenario?.dispose();
});

async function proxyTo(url: string): Promise<TcpProxy> {
  proxy = new TcpProxy(Number(new URL(url).port));
  await proxy.start();
  return proxy;
}

async function start(env: Record<string, string>): Promise<string> {
  exporter = await startExporter(
    {
      env: {
        LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "1",
        // Readiness allows max(3 intervals, interval + timeout) since the last success: 6 s here.
        // The timeout leaves room for a broker slowed down by a busy machine.
        POLL_TIMEOUT_SECONDS: "5",
        RABBITMQ_VHOSTS: scenario.vhost,
        ...env,
      },
    },
    createLogger("test", "silent"),
  );
  return `http://127.0.0.1:${exporter.port}`;
}

function expected(fields: readonly (keyof ExpectedCounts)[]) {
  return Object.fromEntries(
    scenario.queues.map((queue) => {
      const all = scenario.expected(queue);
      return [queue.name, Object.fromEntries(fields.map((field) => [field, all[field]]))];
    }),
  );
}

async function readyzStatus(baseUrl: string): Promise<number> {
  const response = await fetch(`${baseUrl}/readyz`);
  await response.body?.cancel();
  return response.status;
}

/**
 * Healthy → cut → every depth series of the vhost gone, up 0, connection errors counted, /metrics
 * still answering, /readyz 503 → restore → the same counts back, up 1, /readyz 200.
 */
async function outageAndRecovery(
  baseUrl: string,
  cut: TcpProxy,
  sources: readonly string[],
  counts: Record<string, Partial<ExpectedCounts>>,
) {
  await eventually(
    async () => {
      const samples = await scrape(baseUrl);
      expect(countsIn(samples, scenario.vhost)).toEqual(counts);
      expect(await readyzStatus(baseUrl)).toBe(200);
      return true;
    },
    { timeoutMs: 45_000, what: "healthy counts" },
  );

  await cut.cut();
  const down = await eventually(
    async () => {
      // scrape() rejects unless /metrics answers 200.
      const samples = await scrape(baseUrl);
      expect(countsIn(samples, scenario.vhost)).toEqual({});
      for (const source of sources) {
        expect(upOf(samples, source)).toBe(0);
        expect(errorsOf(samples, source, "connection")).toBeGreaterThan(0);
      }
      expect(await readyzStatus(baseUrl)).toBe(503);
      return samples;
    },
    { timeoutMs: 45_000, what: "the outage to show" },
  );
  expect(down.some((sample) => sample.name === "queuescale_source_poll_duration_seconds_count")).toBe(true);

  await cut.restore();
  await eventually(
    async () => {
      const samples = await scrape(baseUrl);
      expect(countsIn(samples, scenario.vhost)).toEqual(counts);
      for (const source of sources) expect(upOf(samples, source)).toBe(1);
      expect(await readyzStatus(baseUrl)).toBe(200);
      return true;
    },
    { timeoutMs: 45_000, what: "recovery" },
  );
}

// Three waits of up to 45 s each on a busy machine: more than the default test timeout.
const OUTAGE_TEST_TIMEOUT_MS = 150_000;

describe("a RabbitMQ outage through the exporter", { timeout: OUTAGE_TEST_TIMEOUT_MS }, () => {
  it("prometheus: series vanish while the endpoint is unreachable and come back", async () => {
    const cut = await proxyTo(PROMETHEUS_URL);
    const baseUrl = await start({ RABBITMQ_SOURCE: "prometheus", RABBITMQ_PROMETHEUS_URL: `http://${cut.address}` });
    await outageAndRecovery(baseUrl, cut, ["prometheus"], expected(["depth", "ready", "unacked", "consumers"]));
  });

  it("management: series vanish while the API is unreachable and come back", async () => {
    const cut = await proxyTo(MANAGEMENT_URL);
    const baseUrl = await start({
      RABBITMQ_SOURCE: "management",
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@${cut.address}`,
    });
    await outageAndRecovery(baseUrl, cut, ["management"], expected(["depth", "ready", "unacked", "consumers"]));
  });

  it("amqp: series vanish when the connection is lost and come back on a new connection", async () => {
    const cut = await proxyTo("amqp://127.0.0.1:5672");
    const baseUrl = await start({
      RABBITMQ_SOURCE: "amqp",
      RABBITMQ_URL: scenario.amqpUrl(cut.port),
      RABBITMQ_QUEUES: QUEUES.map((queue) => queue.name).join(","),
    });
    const counts = Object.fromEntries(
      scenario.queues.map((queue) => {
        const { ready, consumers } = scenario.expected(queue);
        return [queue.name, { depth: ready, ready, consumers }];
      }),
    );
    await outageAndRecovery(
      baseUrl,
      cut,
      QUEUES.map((queue) => `amqp:${queue.name}`),
      counts,
    );
  });

  it("auto: keeps the kind it chose (prometheus) through an outage rather than switch to management", async () => {
    const cut = await proxyTo(PROMETHEUS_URL);
    const baseUrl = await start({
      RABBITMQ_PROMETHEUS_URL: `http://${cut.address}`,
      RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL,
    });
    await outageAndRecovery(baseUrl, cut, ["auto"], expected(["depth", "ready", "unacked", "consumers"]));
  });
});
