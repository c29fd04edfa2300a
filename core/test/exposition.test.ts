import { Counter } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  DEPTH_METRICS,
  createRegistry,
  joinExpositions,
  mergeReadings,
  renderDepthFamilies,
  renderRegistry,
  type QueueReading,
} from "@queuescale/core";

const orders: QueueReading = {
  broker: "rabbitmq",
  labels: { vhost: "/", queue: 'orders "eu"\\x' },
  depth: 7,
  ready: 5,
  unacked: 2,
  consumers: 1,
};
const jobs: QueueReading = {
  broker: "nats",
  labels: { stream: "JOBS", consumer: "worker" },
  depth: 3,
  ready: 1,
  unacked: 2,
  consumers: 0,
  redelivered: 1,
};

describe("depth families", () => {
  it("renders each reading under the contract's names with broker and identity labels, escaped", async () => {
    const text = renderDepthFamilies([orders, jobs]);
    expect(text).toContain(`${DEPTH_METRICS.depth.name}{broker="rabbitmq",vhost="/",queue="orders \\"eu\\"\\\\x"} 7`);
    expect(text).toContain(`${DEPTH_METRICS.depth.name}{broker="nats",stream="JOBS",consumer="worker"} 3`);
    expect(text).toContain(`${DEPTH_METRICS.redelivered.name}{broker="nats",stream="JOBS",consumer="worker"} 1`);
    // Fields a broker does not report are absent, not zero.
    expect(text).not.toMatch(/queuescale_queue_redelivered_messages\{broker="rabbitmq"/);
    expect(text).not.toMatch(/queuescale_queue_oldest_message_age_seconds\{/);
    // Every family is typed and documented once, also when it has no sample.
    for (const spec of Object.values(DEPTH_METRICS)) {
      expect(text.split("\n").filter((line) => line === `# TYPE ${spec.name} gauge`)).toHaveLength(1);
      expect(text).toContain(`# HELP ${spec.name} ${spec.help}`);
    }
  });

  it("merges duplicate readings by taking the larger figure, never the sum", () => {
    const merged = mergeReadings([[orders], [{ ...orders, depth: 9, ready: 4, unacked: undefined }], [jobs]]);
    expect(merged).toHaveLength(2);
    const queue = merged.find((reading) => reading.broker === "rabbitmq")!;
    expect(queue.depth).toBe(9);
    expect(queue.ready).toBe(5);
    expect(queue.unacked).toBe(2);
  });
});

describe("exposition formats", () => {
  it("keeps counter names intact across OpenMetrics and text renders of one registry", async () => {
    const registry = createRegistry();
    const counter = new Counter({ name: "demo_events_total", help: "events", registers: [registry] });
    counter.inc(2);
    const [openMetrics, text] = await Promise.all([
      renderRegistry(registry, "openmetrics"),
      renderRegistry(registry, "prometheus"),
    ]);
    expect(openMetrics).toContain("# TYPE demo_events counter");
    expect(openMetrics).toContain("demo_events_total 2");
    expect(openMetrics.endsWith("# EOF\n")).toBe(true);
    expect(text).toContain("# TYPE demo_events_total counter");
    expect(text).toContain("demo_events_total 2");
    expect(await renderRegistry(registry, "prometheus")).toContain("# TYPE demo_events_total counter");
  });

  it("joins OpenMetrics parts with a single EOF at the end", () => {
    const joined = joinExpositions(["a 1\n# EOF\n", "b 2\n# EOF\n"], "openmetrics");
    expect(joined).toBe("a 1\nb 2\n# EOF\n");
  });
});
