import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BROKER_ADAPTERS } from "@queuescale/core";
import {
  MONITORING_DIR,
  PATHS,
  adapterRulesFromValues,
  generatedFiles,
  kedaScaledObjectPath,
} from "../src/generated.js";
import { adapterConfig } from "./support/adapter.js";

describe("generated monitoring files", () => {
  it("are committed exactly as the generator writes them (run `npx tsx monitoring/src/generate.ts`)", async () => {
    const files = await generatedFiles();
    expect([...files.keys()].sort()).toEqual(
      [
        PATHS.rules,
        PATHS.adapterValues,
        PATHS.kedaDrainTimeTrigger,
        ...BROKER_ADAPTERS.map((adapter) => kedaScaledObjectPath(adapter.name)),
        PATHS.adapterConfig,
        PATHS.dashboardConfigMap,
        PATHS.dashboardJson,
        PATHS.prometheusRule,
      ].sort(),
    );
    for (const [path, content] of files) {
      expect(readFileSync(`${MONITORING_DIR}${path}`, "utf8"), path).toBe(content);
    }
  });

  it("the adapter's Helm values and raw config.yaml hold the same rules", () => {
    const values = adapterRulesFromValues();
    const config = adapterConfig();
    expect(config.rules).toEqual(values.custom);
    expect(config.externalRules).toEqual(values.external);
    expect(config.externalRules.length).toBeGreaterThan(0);
  });

  it("the PrometheusRule carries the plain rule file's groups", () => {
    const plain = parse(readFileSync(`${MONITORING_DIR}${PATHS.rules}`, "utf8")) as { groups: unknown };
    const operator = parse(readFileSync(`${MONITORING_DIR}${PATHS.prometheusRule}`, "utf8")) as {
      kind: string;
      spec: { groups: unknown };
    };
    expect(operator.kind).toBe("PrometheusRule");
    expect(operator.spec.groups).toEqual(plain.groups);
  });

  it("the dashboard ConfigMap is labelled for Grafana's sidecar and holds the dashboard JSON", () => {
    const configMap = parse(readFileSync(`${MONITORING_DIR}${PATHS.dashboardConfigMap}`, "utf8")) as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(configMap.metadata.labels.grafana_dashboard).toBe("1");
    const json = readFileSync(`${MONITORING_DIR}${PATHS.dashboardJson}`, "utf8");
    expect(configMap.data["queuescale.json"]).toBe(json);
    const dashboard = JSON.parse(json) as {
      uid: string;
      templating: { list: Array<{ name: string }> };
      panels: Array<{ id: number }>;
    };
    expect(dashboard.uid).toBe("queuescale");
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(
      expect.arrayContaining(["datasource", "broker", "queue", "consumer"]),
    );
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
