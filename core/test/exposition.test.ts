import { Counter, Gauge } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  DEPTH_METRICS,
  DepthCollector,
  createLogger,
  createRegistry,
  joinExpositions,
  mergeReadings,
  renderDepthFamilies,
  renderRegistry,
  type DepthField,
  type DepthSource,
  type ExpositionFormat,
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

/** The depth families as prom-client renders them: one gauge per family, set reading by reading. */
async function promClientDepthFamilies(readings: readonly QueueReading[], format: ExpositionFormat): Promise<string> {
  const registry = createRegistry(format);
  for (const [field, spec] of Object.entries(DEPTH_METRICS) as [DepthField, (typeof DEPTH_METRICS)[DepthField]][]) {
    const gauge = new Gauge({ name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [registry] });
    for (const reading of readings) {
      const value = reading[field];
      if (value !== undefined) gauge.set({ broker: reading.broker, ...reading.labels }, value);
    }
  }
  return renderRegistry(registry, format);
}

describe("depth families", () => {
  it("are what prom-client renders for the same gauges: in OpenMetrics byte for byte, in text without its blank lines", async () => {
    const readings = [orders, jobs, { ...orders, labels: { vhost: "b\nc", queue: "line\nbreak" }, depth: 0.25 }];
    for (const list of [readings, []]) {
      const text = renderDepthFamilies(list);
      expect(`${text}# EOF\n`).toBe(await promClientDepthFamilies(list, "openmetrics"));
      // Label values escape their newlines, so an empty line can only be a separator.
      expect(text).toBe((await promClientDepthFamilies(list, "prometheus")).replace(/\n\n/g, "\n"));
    }
  });

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

describe("a collector's body", () => {
  /** Answers the readings the test sets. */
  const source: DepthSource & { readings: QueueReading[] } = {
    broker: "rabbitmq",
    name: "scripted",
    readings: [],
    async poll() {
      return { readings: this.readings, takenAtMs: Date.now() };
    },
    async close() {},
  };
  const collector = new DepthCollector([source], { intervalMs: 60_000, timeoutMs: 1_000 }, createLogger("t", "silent"));

  it("is prom-client's render of the depth gauges followed by the live registry, in both formats", async () => {
    source.readings = [orders, { ...orders, labels: { vhost: "/", queue: "b" }, depth: 4, ready: 4, unacked: 0 }];
    await collector.pollAll();
    for (const format of ["prometheus", "openmetrics"] as const) {
      const body = Buffer.concat((await collector.exposition(format)).body).toString("utf8");
      const depth = (await promClientDepthFamilies(source.readings, "openmetrics")).replace(/# EOF\n$/, "");
      expect(body.startsWith(depth)).toBe(true);
      const live = body.slice(depth.length);
      // The live part is the registry's render, joined as joinExpositions joins two renders.
      const families = (text: string) => text.split("\n").filter((line) => line.startsWith("# TYPE"));
      expect(families(live)).toEqual(families(await renderRegistry(collector.registry, format)));
      expect(body).toBe(joinExpositions([depth, live.replace(/^\n/, "")], format));
      if (format === "openmetrics") expect(body.indexOf("# EOF")).toBe(body.length - "# EOF\n".length);
    }
  });

  it("serves the new readings once a poll completes", async () => {
    source.readings = [{ ...orders, depth: 11 }];
    await collector.pollAll();
    const first = Buffer.concat((await collector.exposition("openmetrics")).body).toString("utf8");
    expect(first).toContain(
      `${DEPTH_METRICS.depth.name}{broker="rabbitmq",vhost="/",queue="orders \\"eu\\"\\\\x"} 11\n`,
    );
    source.readings = [{ ...orders, depth: 12 }];
    await collector.pollAll();
    const second = Buffer.concat((await collector.exposition("openmetrics")).body).toString("utf8");
    expect(second).toContain(
      `${DEPTH_METRICS.depth.name}{broker="rabbitmq",vhost="/",queue="orders \\"eu\\"\\\\x"} 12\n`,
    );
    expect(second).not.toContain("} 11\n");
  });
});
