import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@queuescale/core";
import { MANAGEMENT_URL, RabbitScenario } from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";
import { ScalerClient, grpcStatusOf } from "@queuescale/test-support/scaler-client";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../src/exporter.js";

/** Known backlogs: `held` messages are delivered to a consumer that never acks (unacked). */
const BACKLOG = { name: "jobs", published: 7, held: 2 };
const EMPTY = { name: "idle", published: 0, held: 0 };
const PLAIN = { name: "plain", published: 5, held: 0 };
const STREAMED = { name: "stream-me", published: 0, held: 0 };

let scenario: RabbitScenario;
const exporters: RunningExporter[] = [];
const clients: ScalerClient[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  scenario = await RabbitScenario.create([BACKLOG, EMPTY, PLAIN, STREAMED]);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(exporters.splice(0).map((exporter) => exporter.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(async () => {
  await scenario?.dispose();
});

async function proxyTo(url: string): Promise<TcpProxy> {
  const proxy = new TcpProxy(Number(new URL(url).port));
  await proxy.start();
  proxies.push(proxy);
  return proxy;
}

async function start(env: Record<string, string>) {
  const exporter = await startExporter(
    {
      env: {
        LISTEN_ADDRESS: "127.0.0.1:0",
        SCALER_LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "1",
        POLL_TIMEOUT_SECONDS: "5",
        RABBITMQ_VHOSTS: scenario.vhost,
        ...env,
      },
    },
    createLogger("test", "silent"),
  );
  exporters.push(exporter);
  const client = new ScalerClient(`127.0.0.1:${exporter.scalerPort}`);
  clients.push(client);
  return { exporter, client, baseUrl: `http://127.0.0.1:${exporter.port}` };
}

/** The trigger metadata of a ScaledObject for one queue of the scenario, as KEDA passes it. */
function trigger(queue: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    scalerAddress: "queuescale-exporter.queuescale.svc:9424",
    broker: "rabbitmq",
    vhost: scenario.vhost,
    queue,
    value: "3",
    ...extra,
  };
}

async function failure(call: Promise<unknown>): Promise<{ code: string | undefined; details: string }> {
  try {
    await call;
  } catch (error) {
    return { code: grpcStatusOf(error), details: (error as { details?: string }).details ?? "" };
  }
  throw new Error("the call succeeded");
}

/** Polls of the exporter's sources so far: its own counter, queuescale_source_poll_duration_seconds_count. */
async function pollCount(baseUrl: string): Promise<number> {
  return findSamples(await scrape(baseUrl), "queuescale_source_poll_duration_seconds_count").reduce(
    (total, sample) => total + sample.value,
    0,
  );
}

describe("external scaler on RabbitMQ", () => {
  it("answers the metric spec, the exact depth (ready + unacked) and activity from the snapshot", async () => {
    const { client } = await start({ RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL, RABBITMQ_SOURCE: "management" });
    const specs = await client.getMetricSpec(trigger(BACKLOG.name, { value: "2.5" }));
    expect(specs).toHaveLength(1);
    expect(specs[0]!.targetSizeFloat).toBe(2.5);
    expect(specs[0]!.metricName).toMatch(/^queuescale-rabbitmq-[a-z0-9-]+-jobs$/);
    // The management API's figures trail the broker by its statistics interval (5 s).
    const values = await eventually(
      async () => {
        const metrics = await client.getMetrics(trigger(BACKLOG.name)).catch(() => undefined);
        return metrics?.[0]?.metricValueFloat === BACKLOG.published ? metrics : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(values).toEqual([{ metricName: specs[0]!.metricName, metricValue: 7, metricValueFloat: 7 }]);
    expect(await client.isActive(trigger(BACKLOG.name))).toBe(true);
    expect(await client.isActive(trigger(BACKLOG.name, { activationValue: "6.5" }))).toBe(true);
    expect(await client.isActive(trigger(BACKLOG.name, { activationValue: "7" }))).toBe(false);
    // An empty queue that is read is a real 0, and inactive.
    expect((await client.getMetrics(trigger(EMPTY.name)))[0]!.metricValueFloat).toBe(0);
    expect(await client.isActive(trigger(EMPTY.name))).toBe(false);
  });

  it("fails NOT_FOUND for a queue it does not read and INVALID_ARGUMENT naming the bad key", async () => {
    const { client } = await start({ RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL, RABBITMQ_SOURCE: "management" });
    await eventually(() => client.getMetrics(trigger(BACKLOG.name)).catch(() => undefined));
    const missing = await failure(client.getMetrics(trigger("no-such-queue")));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.details).toContain("no-such-queue");
    expect((await failure(client.isActive(trigger("no-such-queue")))).code).toBe("NOT_FOUND");
    // A broker this exporter does not read is not a guess either.
    const nats = { broker: "nats", stream: "JOBS", consumer: "workers", value: "3" };
    expect((await failure(client.getMetrics(nats))).code).toBe("NOT_FOUND");

    const bad: [Record<string, string>, string][] = [
      [{ ...trigger(BACKLOG.name), broker: "kafka" }, "scalerMetadata.broker"],
      [{ vhost: scenario.vhost, queue: BACKLOG.name, value: "3" }, "scalerMetadata.broker"],
      [{ broker: "rabbitmq", queue: BACKLOG.name, value: "3" }, "scalerMetadata.vhost"],
      [{ broker: "rabbitmq", vhost: scenario.vhost, value: "3" }, "scalerMetadata.queue"],
      [trigger(BACKLOG.name, { value: "" }), "scalerMetadata.value"],
      [trigger(BACKLOG.name, { value: "0" }), "scalerMetadata.value"],
      [trigger(BACKLOG.name, { value: "ten" }), "scalerMetadata.value"],
      [trigger(BACKLOG.name, { activationValue: "-1" }), "scalerMetadata.activationValue"],
    ];
    for (const [metadata, key] of bad) {
      for (const call of [client.getMetrics(metadata), client.getMetricSpec(metadata), client.isActive(metadata)]) {
        const { code, details } = await failure(call);
        expect(code, JSON.stringify(metadata)).toBe("INVALID_ARGUMENT");
        expect(details, JSON.stringify(metadata)).toContain(key);
      }
    }
  });

  it("fails UNAVAILABLE while the broker cannot be read, never 0, and answers again after", async () => {
    const proxy = await proxyTo(MANAGEMENT_URL);
    const url = new URL(MANAGEMENT_URL);
    url.port = String(proxy.port);
    const { client, baseUrl } = await start({ RABBITMQ_MANAGEMENT_URL: url.href, RABBITMQ_SOURCE: "management" });
    await eventually(
      async () =>
        (await client.getMetrics(trigger(PLAIN.name)).catch(() => []))[0]?.metricValueFloat === 5 || undefined,
      { timeoutMs: 20_000 },
    );
    await proxy.cut();
    const down = await eventually(async () => {
      const result = await failure(client.getMetrics(trigger(PLAIN.name))).catch(() => undefined);
      return result?.code === "UNAVAILABLE" ? result : undefined;
    });
    expect(down.details).toContain("management");
    expect((await failure(client.isActive(trigger(PLAIN.name)))).code).toBe("UNAVAILABLE");
    // Unknown, not missing: a queue that is not there cannot be told apart while the source is down.
    expect((await failure(client.getMetrics(trigger("no-such-queue")))).code).toBe("UNAVAILABLE");
    // The metric spec needs no broker: KEDA keeps its HPA during the outage.
    expect((await client.getMetricSpec(trigger(PLAIN.name)))[0]!.targetSizeFloat).toBe(3);

    await proxy.restore();
    const back = await eventually(() => client.getMetrics(trigger(PLAIN.name)).catch(() => undefined));
    expect(back[0]!.metricValueFloat).toBe(PLAIN.published);
    // A scrape within a second of the last one shares its render: wait for one that has the last call.
    const samples = await eventually(async () => {
      const scraped = await scrape(baseUrl);
      const ok = findSamples(scraped, "queuescale_scaler_requests_total", { method: "GetMetrics", code: "OK" });
      return (ok[0]?.value ?? 0) >= 2 ? scraped : undefined;
    });
    const requests = (method: string, code: string) =>
      findSamples(samples, "queuescale_scaler_requests_total", { method, code })[0]?.value ?? 0;
    expect(requests("GetMetrics", "UNAVAILABLE")).toBeGreaterThanOrEqual(2);
    expect(requests("GetMetrics", "OK")).toBeGreaterThanOrEqual(2);
    expect(requests("IsActive", "UNAVAILABLE")).toBe(1);
  });

  it("serves 200 concurrent GetMetrics from one snapshot, without polling the broker for them", async () => {
    // The amqp source reads live counts, so the first poll is already exact; the next is an hour away.
    const { client, baseUrl, exporter } = await start({
      RABBITMQ_URL: scenario.amqpUrl(),
      RABBITMQ_QUEUES: PLAIN.name,
      RABBITMQ_SOURCE: "amqp",
      POLL_INTERVAL_SECONDS: "3600",
    });
    await eventually(() => exporter.collector.find("rabbitmq", { vhost: scenario.vhost, queue: PLAIN.name }));
    const pollsBefore = await pollCount(baseUrl);
    expect(pollsBefore).toBe(1);
    const answers = await Promise.all(Array.from({ length: 200 }, () => client.getMetrics(trigger(PLAIN.name))));
    expect(answers.map((values) => values[0]!.metricValueFloat)).toEqual(Array(200).fill(PLAIN.published));
    expect(await pollCount(baseUrl)).toBe(pollsBefore);
    // A scrape within a second of the last one shares its render (the collector's exposition cache).
    const counted = await eventually(async () => {
      const requests = findSamples(await scrape(baseUrl), "queuescale_scaler_requests_total", {
        method: "GetMetrics",
        code: "OK",
      });
      return requests[0]?.value;
    });
    expect(counted).toBe(200);
  });

  it("StreamIsActive says false at once, true on the first poll that sees work, and ends on shutdown", async () => {
    const queue = STREAMED.name;
    const { client, exporter } = await start({
      RABBITMQ_URL: scenario.amqpUrl(),
      RABBITMQ_QUEUES: queue,
      RABBITMQ_SOURCE: "amqp",
      POLL_INTERVAL_SECONDS: "0.5",
    });
    await eventually(() => exporter.collector.find("rabbitmq", { vhost: scenario.vhost, queue }));
    // The polls, and which of them first saw the message (the test listens before the stream does).
    let polls = 0;
    let firstPollWithWork: number | undefined;
    exporter.collector.onPoll(() => {
      polls++;
      const depth = exporter.collector.find("rabbitmq", { vhost: scenario.vhost, queue })?.depth ?? 0;
      if (depth > 0) firstPollWithWork ??= polls;
    });
    const received: { result: boolean; atPoll: number }[] = [];
    const stream = client.streamIsActive(trigger(queue));
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    stream.on("data", (message: { result: boolean }) => received.push({ result: message.result, atPoll: polls }));
    await eventually(() => received.length > 0 || undefined);
    expect(received[0]!.result).toBe(false);

    await scenario.publish(queue, 1);
    await eventually(() => received.length > 1 || undefined);
    expect(received[1]).toEqual({ result: true, atPoll: firstPollWithWork });
    // Pushed on change only: polls that see the same state send nothing.
    const pollsAtFlip = polls;
    await eventually(() => polls >= pollsAtFlip + 3 || undefined);
    expect(received).toHaveLength(2);

    await exporter.stop();
    exporters.splice(exporters.indexOf(exporter), 1);
    await ended;
  });
});
