import { parse } from "yaml";
import type { ExternalMetricReader } from "./metric-reader.js";
import { selectorToPromQL, type LabelSelector } from "./selector.js";

/**
 * Reads External metrics the way Prometheus Adapter serves them: the adapter configuration's
 * `externalRules` say which Prometheus series carries a metric (`seriesQuery`, renamed by
 * `name.matches`/`name.as`) and which query answers it (`metricsQuery`, with the HPA's selector and
 * namespace filled in). The HPA sums the items the query returns. With it the local autoscaler
 * reads a recording rule (queuescale:queue_required_replicas) under the name the HPA asks for
 * (queuescale_queue_required_replicas), through the shipped adapter rules rather than a copy.
 */

export interface ExternalRule {
  seriesQuery: string;
  name?: { matches?: string; as?: string };
  metricsQuery: string;
}

/** The metric a rule's seriesQuery selects: `name{…}` or a bare name. */
export function seriesNameOf(rule: ExternalRule): string {
  const match = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(rule.seriesQuery);
  if (!match) throw new Error(`seriesQuery without a metric name: ${rule.seriesQuery}`);
  return match[1]!;
}

/** The External metric name a rule exposes its series under. */
export function exposedNameOf(rule: ExternalRule): string {
  const series = seriesNameOf(rule);
  const matches = rule.name?.matches;
  if (!matches) return series;
  const pattern = new RegExp(matches);
  if (!pattern.test(series)) return series;
  // The adapter expands `as` with Go's regexp: `${1}` and `$1` both name a group; JS knows `$1`.
  return rule.name?.as ? series.replace(pattern, rule.name.as.replace(/\$\{(\d+)\}/g, "$$$1")) : series;
}

/** The externalRules of an adapter configuration (the `--config` file or the chart's `rules:`). */
export function parseExternalRules(text: string): ExternalRule[] {
  const config = parse(text) as { externalRules?: unknown; rules?: { external?: unknown } } | null;
  const rules = config?.externalRules ?? config?.rules?.external;
  if (!Array.isArray(rules)) throw new Error("no externalRules list");
  return rules.map((rule, index) => {
    const candidate = rule as Partial<ExternalRule>;
    if (typeof candidate.seriesQuery !== "string" || typeof candidate.metricsQuery !== "string") {
      throw new Error(`externalRules[${index}] needs seriesQuery and metricsQuery`);
    }
    return candidate as ExternalRule;
  });
}

/**
 * A rule's metricsQuery as the adapter sends it for an External metric: `<<.Series>>` is the
 * series, `<<.LabelMatchers>>` the selector's requirements sorted by label (as a parsed Kubernetes
 * selector lists them) followed by the namespace, and `<<.GroupBy>>` is empty.
 */
export function fillExternalQuery(rule: ExternalRule, selector: LabelSelector | undefined, namespace: string): string {
  const requirements: { key: string; selector: LabelSelector }[] = [
    ...Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => ({
      key,
      selector: { matchLabels: { [key]: value } },
    })),
    ...(selector?.matchExpressions ?? []).map((requirement) => ({
      key: requirement.key,
      selector: { matchExpressions: [requirement] },
    })),
  ];
  const matchers = [
    ...requirements
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((r) => selectorToPromQL(r.selector)),
    `namespace=${JSON.stringify(namespace)}`,
  ].join(",");
  const query = rule.metricsQuery
    .replaceAll("<<.Series>>", seriesNameOf(rule))
    .replaceAll("<<.LabelMatchers>>", matchers)
    .replaceAll("<<.GroupBy>>", "");
  if (query.includes("<<")) throw new Error(`unfilled placeholder in ${rule.metricsQuery}`);
  return query;
}

export class AdapterRulesReader implements ExternalMetricReader {
  constructor(
    private readonly baseUrl: string,
    private readonly rules: readonly ExternalRule[],
    private readonly namespace: string,
    private readonly timeoutMs = 5_000,
  ) {}

  get description(): string {
    return `prometheus ${this.baseUrl} through the adapter's externalRules (namespace ${this.namespace})`;
  }

  /** The query for a metric, or undefined when no rule exposes it. */
  query(metricName: string, selector: LabelSelector | undefined): string | undefined {
    const rule = this.rules.find((candidate) => exposedNameOf(candidate) === metricName);
    return rule ? fillExternalQuery(rule, selector, this.namespace) : undefined;
  }

  async read(metricName: string, selector: LabelSelector | undefined): Promise<number | null> {
    const query = this.query(metricName, selector);
    if (query === undefined) return null;
    const url = new URL("/api/v1/query", this.baseUrl);
    url.searchParams.set("query", query);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) return null;
      const body = (await response.json()) as { data?: { result?: { value?: [number, string] }[] } };
      const values = (body.data?.result ?? []).map((series) => Number(series.value?.[1]));
      // No series is no metric (the HPA holds), never 0.
      if (values.length === 0 || values.some((value) => !Number.isFinite(value))) return null;
      return values.reduce((sum, value) => sum + value, 0);
    } catch {
      return null;
    }
  }
}
