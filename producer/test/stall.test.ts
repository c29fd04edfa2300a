import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturingLogger } from "@queuescale/test-support/log-capture";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { eventually } from "@queuescale/test-support/names";
import { rabbitmqHarness } from "@queuescale/test-support/rabbitmq/harness";
import type { ProducerTarget } from "@queuescale/test-support/brokers";
import { ADMIN_TOKEN, startTestProducer, type TestProducer } from "./support/producer.js";

const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * A connection whose packets vanish (no reset, no close): the proxy stops forwarding both ways.
 * Without bounds every broker operation would wait for the whole stall.
 */
describe("producer on rabbitmq when the connection stalls without closing", () => {
  let harness: ProducerTarget;
  let proxy: TcpProxy;
  let producer: TestProducer;
  const log = capturingLogger();

  beforeAll(async () => {
    harness = await rabbitmqHarness.producerTarget();
    proxy = new TcpProxy(harness.brokerPort);
    await proxy.start();
    producer = await startTestProducer(
      {
        ...harness.settings(proxy.port),
        ADMIN_TOKEN,
        PUBLISH_TIMEOUT_SECONDS: "1",
        RABBITMQ_HEARTBEAT_SECONDS: "3",
      },
      log.logger,
    );
  });

  afterAll(async () => {
    proxy?.resume();
    await producer?.stop();
    await proxy?.close();
    await harness?.cleanup();
  });

  it("answers every request with 503 or 502 instead of hanging, turns not ready, and recovers", async () => {
    const published = await harness.createQueue();
    const unchecked = await harness.createQueue();
    // Cached existence and a pooled channel for `published`; `unchecked` was never looked at.
    expect((await producer.post(`/v1/queues/${published}/messages`, { body: "before" })).status).toBe(202);
    expect((await producer.request("GET", "/readyz")).status).toBe(200);

    proxy.pause();
    try {
      const existence = await producer.post(`/v1/queues/${unchecked}/messages`, { body: "stalled" });
      expect(existence.status).toBe(503);
      expect(existence.body.error).toMatch(/RabbitMQ/);
      const publish = await producer.post(`/v1/queues/${published}/messages`, { body: "stalled" });
      expect([502, 503]).toContain(publish.status);
      const purge = await producer.request("POST", `/v1/queues/${published}/purge`, ADMIN);
      expect(purge.status).toBe(503);
      const create = await producer.post("/v1/queues", { name: `${unchecked}-new` }, ADMIN);
      expect(create.status).toBe(503);
      // Every one of those 5xx answers is logged with its reason.
      const failures = log.lines.filter((line) => line.msg === "request failed");
      expect(failures.map((line) => line.status)).toEqual([
        existence.status,
        publish.status,
        purge.status,
        create.status,
      ]);
      for (const line of failures) expect(line.reason).toMatch(/\S/);
      // The heartbeat notices the silence.
      await eventually(async () => ((await producer.request("GET", "/readyz")).status === 503 ? true : undefined), {
        timeoutMs: 30_000,
        what: "/readyz to answer 503 on a stalled connection",
      });
    } finally {
      proxy.resume();
    }
    await eventually(async () => ((await producer.request("GET", "/readyz")).status === 200 ? true : undefined), {
      timeoutMs: 30_000,
      what: "the producer to reconnect",
    });
    const after = await producer.post(`/v1/queues/${unchecked}/messages`, { body: "after", id: "after" });
    expect(after.status).toBe(202);
    const stored = await harness.drain(unchecked, 1);
    expect(stored.map((message) => message.id)).toEqual(["after"]);
  });
});
