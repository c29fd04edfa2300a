import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderDepthFamilies, type QueueReading } from "@queuescale/core";
import { ScrapeReader } from "../src/local/metric-reader.js";
import { selectorMatches, selectorToPromQL } from "../src/local/selector.js";

const orders = (depth: number): QueueReading => ({
  broker: "rabbitmq",
  labels: { vhost: "/", queue: "orders" },
  depth,
});
const billing = (depth: number): QueueReading => ({
  broker: "rabbitmq",
  labels: { vhost: "/", queue: "billing" },
  depth,
});

async function serve(body: () => string): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => {
    response.end(body());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics` };
}

describe("ScrapeReader", () => {
  const servers: Server[] = [];
  let exporter: string;
  let worker: string;
  let laggingWorker: string;

  beforeAll(async () => {
    // Three reporters of the same series, as the exporter and two workers publish them; a worker's
    // poll lags, so its numbers differ.
    const a = await serve(() => renderDepthFamilies([orders(250), billing(40)]));
    const b = await serve(() => renderDepthFamilies([orders(250)]));
    const c = await serve(() => renderDepthFamilies([orders(180)]));
    servers.push(a.server, b.server, c.server);
    [exporter, worker, laggingWorker] = [a.url, b.url, c.url];
  });
  afterAll(() => servers.forEach((server) => server.close()));

  it("takes the max over reporters of a series, never the sum", async () => {
    const reader = new ScrapeReader(() => [exporter, worker, laggingWorker]);
    expect(await reader.read("queuescale_queue_depth", { matchLabels: { queue: "orders" } })).toBe(250);
  });

  it("sums the series a selector matches, as the HPA sums External metric items", async () => {
    const reader = new ScrapeReader(() => [exporter, worker]);
    expect(await reader.read("queuescale_queue_depth", { matchLabels: { broker: "rabbitmq" } })).toBe(290);
  });

  it("answers null, not 0, when no series matches or no reporter answers", async () => {
    const reader = new ScrapeReader(() => [exporter]);
    expect(await reader.read("queuescale_queue_depth", { matchLabels: { queue: "missing" } })).toBeNull();
    const dead = new ScrapeReader(() => ["http://127.0.0.1:9/metrics"], 500);
    expect(await dead.read("queuescale_queue_depth", undefined)).toBeNull();
  });
});

describe("label selectors", () => {
  const labels = { broker: "nats", stream: "JOBS", consumer: "worker" };

  it("match like the API machinery", () => {
    expect(selectorMatches({ matchLabels: { stream: "JOBS" } }, labels)).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: "consumer", operator: "In", values: ["a", "worker"] }] }, labels),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: "consumer", operator: "NotIn", values: ["worker"] }] }, labels),
    ).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "queue", operator: "DoesNotExist" }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "queue", operator: "Exists" }] }, labels)).toBe(false);
  });

  it("become PromQL matchers with escaped values", () => {
    expect(
      selectorToPromQL({
        matchLabels: { queue: 'a"b' },
        matchExpressions: [{ key: "vhost", operator: "In", values: ["/", "eu.west"] }],
      }),
    ).toBe('queue="a\\"b",vhost=~"/|eu\\\\.west"');
  });
});
