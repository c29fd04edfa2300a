import { readFileSync } from "node:fs";
import {
  BROKER_ADAPTERS,
  DEPTH_METRICS,
  EXPORTER_METRICS,
  WORKER_METRICS as CONTRACT_WORKER_METRICS,
  depthLabels,
} from "@queuescale/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { WorkerMetrics } from "../../worker/src/metrics.js";
import { buildDashboard } from "../src/dashboard.js";
import { MONITORING_DIR, PATHS, kedaScaledObjectPath } from "../src/generated.js";
import { adapterConfig, fillMetricsQuery, seriesName } from "./support/adapter.js";
import { metricNames } from "./support/promql.js";

/** kube-state-metrics families the rules and the dashboard read (HPA status and spec). */
const KUBE_STATE_METRICS = [
  "kube_horizontalpodautoscaler_status_current_replicas",
  "kube_horizontalpodautoscaler_status_desired_replicas",
  "kube_horizontalpodautoscaler_spec_max_replicas",
  "kube_horizontalpodautoscaler_spec_target_metric",
];
/** The worker's own families, from core's contract. */
const WORKER_METRICS = Object.values(CONTRACT_WORKER_METRICS);

interface RuleFile {
  groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}

const ruleFile = parse(readFileSync(`${MONITORING_DIR}${PATHS.rules}`, "utf8")) as RuleFile;
const ruleEntries = ruleFile.groups.flatMap((group) => group.rules);
const recorded = ruleEntries.filter((rule) => rule.record).map((rule) => rule.record!);

function dashboardExpressions(): string[] {
  const dashboard = buildDashboard();
  const panelQueries = (dashboard.panels ?? []).flatMap((panel) =>
    ((panel as { targets?: Array<{ expr?: string }> }).targets ?? []).map((target) => target.expr ?? ""),
  );
  const variableQueries = (dashboard.templating?.list ?? [])
    .filter((variable) => variable.type === "query")
    .map((variable) => (variable.query as { query: string }).query.replace(/^label_values\((.*), \w+\)$/, "$1"));
  return [...panelQueries, ...variableQueries];
}

function adapterExpressions(): string[] {
  const config = adapterConfig();
  return [...config.rules, ...config.externalRules].flatMap((rule) => [
    rule.seriesQuery,
    fillMetricsQuery(rule, { namespace: "ns", resource: { label: "pod", names: ["p"] } }),
  ]);
}

function kedaExpressions(): string[] {
  const scaledObjects = BROKER_ADAPTERS.flatMap((adapter) => {
    const scaledObject = parse(readFileSync(`${MONITORING_DIR}${kedaScaledObjectPath(adapter.name)}`, "utf8")) as {
      spec: { triggers: Array<{ metadata: { query: string } }> };
    };
    return scaledObject.spec.triggers.map((trigger) => trigger.metadata.query);
  });
  // The drain-time component's JSON patch adds a trigger of its own.
  const drainTime = parse(readFileSync(`${MONITORING_DIR}${PATHS.kedaDrainTimeTrigger}`, "utf8")) as Array<{
    value?: { metadata?: { query?: string } };
  }>;
  const added = drainTime.flatMap((operation) => operation.value?.metadata?.query ?? []);
  expect(added).toHaveLength(1);
  return [...scaledObjects, ...added];
}

/** Every family a query may name: the contract, the worker's own, kube-state-metrics, our recordings. */
function knownNames(): Set<string> {
  const known = new Set<string>([...KUBE_STATE_METRICS, ...recorded]);
  for (const spec of [...EXPORTER_METRICS, ...WORKER_METRICS]) {
    known.add(spec.name);
    if (spec.type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) known.add(spec.name + suffix);
  }
  return known;
}

describe("metric names in adapter rules, recording/alerting rules, the dashboard and the KEDA trigger", () => {
  const sources: Record<string, string[]> = {
    "adapter rules": adapterExpressions(),
    "Prometheus rules": ruleEntries.map((rule) => rule.expr),
    dashboard: dashboardExpressions(),
    "KEDA trigger": kedaExpressions(),
  };

  for (const [source, expressions] of Object.entries(sources)) {
    it(`${source} name only metrics the contract, the worker or kube-state-metrics publish`, () => {
      const known = knownNames();
      expect(expressions.length).toBeGreaterThan(0);
      for (const expr of expressions) {
        const names = metricNames(expr);
        expect(names.length, expr).toBeGreaterThan(0);
        for (const name of names) expect(known.has(name), `${name} in ${expr}`).toBe(true);
      }
    });
  }

  it("the worker package registers exactly the contract's worker families, with its queue's labels", async () => {
    const queue = { broker: "nats", stream: "JOBS", consumer: "workers" };
    const { registry } = new WorkerMetrics({ queue, concurrency: 3, drainTargetSeconds: 45 });
    const families = await registry.getMetricsAsJSON();
    expect(families.map((family) => family.name).sort()).toEqual(WORKER_METRICS.map((spec) => spec.name).sort());
    for (const family of families) {
      const spec = WORKER_METRICS.find((candidate) => candidate.name === family.name)!;
      expect(family.type, family.name).toBe(spec.type);
      for (const value of family.values) {
        // A histogram's buckets add `le` to its labels.
        const allowed = spec.type === "histogram" ? [...spec.labels, "le"] : spec.labels;
        for (const label of Object.keys(value.labels)) expect(allowed, family.name).toContain(label);
        expect(value.labels, family.name).toMatchObject(queue);
      }
    }
  });

  it("the name reader finds what a query selects and skips functions, keywords and labels", () => {
    expect(
      metricNames(
        'sum by (namespace, job) (rate(a_total{outcome="ack"}[2m])) * on (namespace, job) group_right () b:c:d and max by (le) (e)',
      ).sort(),
    ).toEqual(["a_total", "b:c:d", "e"]);
  });

  it("the dashboard shows every family the exporter and the worker publish", () => {
    const used = new Set(dashboardExpressions().flatMap(metricNames));
    for (const spec of [...EXPORTER_METRICS, ...WORKER_METRICS]) {
      const name = spec.type === "histogram" ? `${spec.name}_bucket` : spec.name;
      expect(used.has(name), name).toBe(true);
    }
  });

  it("depth families are combined over reporters with max, never sum", () => {
    const depthNames = Object.values(DEPTH_METRICS).map((spec) => spec.name);
    const everything = Object.values(sources).flat();
    for (const expr of everything) {
      for (const name of depthNames) {
        if (!metricNames(expr).includes(name)) continue;
        // count() is allowed: it counts reporters (workers per queue), it does not add depths.
        expect(expr, expr).not.toMatch(new RegExp(`(sum|avg)\\s*(by\\s*\\([^)]*\\))?\\s*\\(\\s*${name}\\b`));
      }
    }
    const external = adapterConfig().externalRules;
    const recordedRules = external.filter((rule) => seriesName(rule).includes(":"));
    const depthRules = external.filter((rule) => !recordedRules.includes(rule));
    expect(depthRules.map(seriesName).sort()).toEqual(
      [DEPTH_METRICS.depth, DEPTH_METRICS.ready, DEPTH_METRICS.unacked, DEPTH_METRICS.oldestMessageAgeSeconds]
        .map((spec) => spec.name)
        .sort(),
    );
    // The drain-time figure: a recorded series, served under a name without colons.
    expect(recordedRules.map((rule) => [seriesName(rule), rule.name.as])).toEqual([
      ["queuescale:queue_required_replicas", "queuescale_queue_required_replicas"],
    ]);
    expect(recorded).toContain("queuescale:queue_required_replicas");
    for (const rule of external) {
      // The queue's identity: namespace plus the contract's depth labels, from the adapter list.
      expect(
        rule.metricsQuery.startsWith(`max by (${["namespace", ...depthLabels()].join(", ")}) (`),
        rule.metricsQuery,
      ).toBe(true);
      expect(rule.resources.overrides.namespace).toEqual({ resource: "namespace" });
    }
    for (const rule of depthRules) expect(rule.name.as).toBe(seriesName(rule));
  });
});
