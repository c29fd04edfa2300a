import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AdapterRulesReader,
  exposedNameOf,
  fillExternalQuery,
  parseExternalRules,
  seriesNameOf,
} from "../src/local/adapter-rules.js";

const SHIPPED = readFileSync(new URL("../../monitoring/prometheus-adapter/config.yaml", import.meta.url), "utf8");

describe("the adapter's externalRules", () => {
  const rules = parseExternalRules(SHIPPED);

  it("expose each series under the name the rule gives it", () => {
    const depth = rules.find((rule) => seriesNameOf(rule) === "queuescale_queue_depth")!;
    expect(exposedNameOf(depth)).toBe("queuescale_queue_depth");
    const renamed = {
      seriesQuery: 'a:b:c{namespace!=""}',
      name: { matches: "^a:(.*):c$", as: "a_${1}_c" },
      metricsQuery: "",
    };
    expect(exposedNameOf(renamed)).toBe("a_b_c");
  });

  it("fill the metricsQuery with the selector's matchers, then the namespace, as the adapter does", () => {
    const depth = rules.find((rule) => exposedNameOf(rule) === "queuescale_queue_depth")!;
    expect(fillExternalQuery(depth, { matchLabels: { vhost: "queuescale", queue: "jobs" } }, "queuescale")).toBe(
      'max by (namespace, broker, vhost, queue, stream, consumer) (queuescale_queue_depth{queue="jobs",vhost="queuescale",namespace="queuescale"})',
    );
  });

  it("serve the drain-time recording rule under the name the HPA asks for", () => {
    const reader = new AdapterRulesReader("http://127.0.0.1:9", rules, "queuescale");
    expect(
      reader.query("queuescale_queue_required_replicas", { matchLabels: { stream: "JOBS", consumer: "workers" } }),
    ).toBe(
      'max by (namespace, broker, vhost, queue, stream, consumer) (queuescale:queue_required_replicas{consumer="workers",stream="JOBS",namespace="queuescale"})',
    );
  });

  it("read the Helm values layout too (rules.external)", () => {
    const values = readFileSync(new URL("../../monitoring/prometheus-adapter/values.yaml", import.meta.url), "utf8");
    expect(parseExternalRules(values).map(exposedNameOf)).toEqual(rules.map(exposedNameOf));
  });

  it("a metric no rule exposes reads as unavailable (null), never 0", async () => {
    const reader = new AdapterRulesReader("http://127.0.0.1:9", rules, "queuescale", 500);
    expect(reader.query("queuescale_nothing", undefined)).toBeUndefined();
    expect(await reader.read("queuescale_nothing", undefined)).toBeNull();
  });
});
