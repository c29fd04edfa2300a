import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { MONITORING_DIR, PATHS } from "../../src/generated.js";

export interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: Record<string, { resource: string }> };
  name: { matches: string; as: string };
  metricsQuery: string;
}

export interface AdapterConfig {
  rules: AdapterRule[];
  externalRules: AdapterRule[];
}

export function adapterConfig(): AdapterConfig {
  return parse(readFileSync(`${MONITORING_DIR}${PATHS.adapterConfig}`, "utf8")) as AdapterConfig;
}

/** The one metric a rule's seriesQuery selects. */
export function seriesName(rule: AdapterRule): string {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{/.exec(rule.seriesQuery);
  if (!match) throw new Error(`seriesQuery without a metric name: ${rule.seriesQuery}`);
  return match[1]!;
}

/**
 * Fills a metricsQuery as Prometheus Adapter does: <<.Series>> is the series name, <<.LabelMatchers>>
 * the selector's requirements sorted by label, then namespace="..." (external and namespaced custom
 * metrics), then for custom metrics the resource label (pod=~"a|b"); <<.GroupBy>> is the resource
 * label for custom metrics and empty for external ones.
 */
export function fillMetricsQuery(
  rule: AdapterRule,
  fill: { selector?: Record<string, string>; namespace: string; resource?: { label: string; names: string[] } },
): string {
  const matchers = Object.entries(fill.selector ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, value]) => `${label}="${value}"`);
  matchers.push(`namespace="${fill.namespace}"`);
  if (fill.resource) {
    const names = fill.resource.names;
    matchers.push(
      names.length === 1 ? `${fill.resource.label}="${names[0]}"` : `${fill.resource.label}=~"${names.join("|")}"`,
    );
  }
  const query = rule.metricsQuery
    .replaceAll("<<.Series>>", seriesName(rule))
    .replaceAll("<<.LabelMatchers>>", matchers.join(","))
    .replaceAll("<<.GroupBy>>", fill.resource?.label ?? "");
  if (query.includes("<<")) throw new Error(`unfilled placeholder in ${rule.metricsQuery}`);
  return query;
}
