import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BROKER_ADAPTERS, RESERVED_LABELS, createLogger, depthLabels, readSettings } from "@queuescale/core";
import { memoryAdapter, memoryDepths } from "@queuescale/test-support/memory-broker";
import { eventually, uniqueName } from "@queuescale/test-support/names";
import { ScalerClient } from "@queuescale/test-support/scaler-client";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { PATHS, generatedFiles } from "../../monitoring/src/generated.js";
import { startExporter, type RunningExporter } from "../src/exporter.js";
import { exporterSettingsOf } from "../src/settings.js";

/** The built-in adapters plus a depth-only one that lives in the test suite. */
const ADAPTERS = [...BROKER_ADAPTERS, memoryAdapter];
const logger = createLogger("adapter-seam", "silent");
const running: RunningExporter[] = [];

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
});

describe("a broker adapter added to the list, with no program code changed", () => {
  it("is read by the exporter: its depths reach /metrics under its name and identity labels", async () => {
    const topic = uniqueName("topic");
    memoryDepths.set(topic, 7);
    const exporter = await startExporter(
      {
        env: { MEMORY_TOPICS: topic, LISTEN_ADDRESS: "127.0.0.1:0", POLL_INTERVAL_SECONDS: "0.1", LOG_LEVEL: "silent" },
      },
      logger,
      ADAPTERS,
    );
    running.push(exporter);
    const baseUrl = `http://127.0.0.1:${exporter.port}`;
    const depth = await eventually(async () => {
      const samples = findSamples(await scrape(baseUrl), "queuescale_queue_depth", { broker: "memory", topic });
      return samples.length === 1 ? samples[0] : undefined;
    });
    expect(depth.value).toBe(7);
    expect(Object.keys(depth.labels).sort()).toEqual(["broker", "topic"]);
    memoryDepths.set(topic, 3);
    await eventually(async () => {
      const samples = findSamples(await scrape(baseUrl), "queuescale_queue_depth", { broker: "memory", topic });
      return samples[0]?.value === 3 ? true : undefined;
    });
    const up = findSamples(await scrape(baseUrl), "queuescale_source_up", { broker: "memory", source: "memory" });
    expect(up.map((sample) => sample.value)).toEqual([1]);
  });

  it("is served by the external scaler under its name and identity labels", async () => {
    const topic = uniqueName("topic");
    memoryDepths.set(topic, 5);
    const exporter = await startExporter(
      {
        env: {
          MEMORY_TOPICS: topic,
          LISTEN_ADDRESS: "127.0.0.1:0",
          SCALER_LISTEN_ADDRESS: "127.0.0.1:0",
          POLL_INTERVAL_SECONDS: "0.1",
          LOG_LEVEL: "silent",
        },
      },
      logger,
      ADAPTERS,
    );
    running.push(exporter);
    const client = new ScalerClient(`127.0.0.1:${exporter.scalerPort}`);
    try {
      const trigger = { broker: "memory", topic, value: "2" };
      const values = await eventually(() => client.getMetrics(trigger).catch(() => undefined));
      expect(values.map((value) => value.metricValueFloat)).toEqual([5]);
      expect((await client.getMetricSpec(trigger))[0]!.metricName).toBe(`queuescale-memory-${topic}`);
      // The brokers the scaler accepts are the adapter list's, the new one included.
      const error = await client.getMetrics({ broker: "kafka", topic, value: "2" }).catch((caught: unknown) => caught);
      expect((error as { details: string }).details).toContain("one of rabbitmq, nats, memory");
      const missing = await client.getMetrics({ broker: "memory", value: "2" }).catch((caught: unknown) => caught);
      expect((missing as { details: string }).details).toContain("scalerMetadata.topic");
    } finally {
      client.close();
    }
  });

  it("brings its settings to the exporter's, validated like every other setting", () => {
    expect(Object.keys(exporterSettingsOf(ADAPTERS))).toContain("MEMORY_TOPICS");
    expect(() => readSettings(exporterSettingsOf(ADAPTERS), { env: { MEMORY_TOPICS: "Bad Topic" } })).toThrow(
      /MEMORY_TOPICS/,
    );
  });

  it("adds its identity labels to the contract's depth labels, none of them reserved", () => {
    const labels = depthLabels(ADAPTERS);
    expect(labels).toEqual([...depthLabels(), "topic"]);
    for (const reserved of RESERVED_LABELS) expect(labels).not.toContain(reserved);
  });

  it("reaches the generated rules, adapter values and dashboard by regeneration alone", async () => {
    const files = await generatedFiles(ADAPTERS);
    const identity = `namespace, ${depthLabels(ADAPTERS).join(", ")}`;
    const rules = parse(files.get(PATHS.rules)!) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    const depthRule = rules.groups.flatMap((group) => group.rules).find((rule) => rule.expr.includes("queue_depth)"));
    expect(depthRule?.expr).toBe(`max by (${identity}) (queuescale_queue_depth)`);
    const values = parse(files.get(PATHS.adapterValues)!) as { rules: { external: Array<{ metricsQuery: string }> } };
    for (const rule of values.rules.external) expect(rule.metricsQuery).toContain(`max by (${identity}) (`);
    expect(files.get(PATHS.dashboardJson)).toContain(`max by (${identity})`);
    expect(files.get(PATHS.dashboardJson)).toContain("{{topic}}");
    // The committed files, generated from the built-in list only, do not know the test broker.
    expect((await generatedFiles()).get(PATHS.rules)).not.toContain("topic");
  });
});
