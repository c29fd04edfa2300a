/**
 * Just enough PromQL reading for drift tests: the metric names an expression selects. Strings,
 * label matchers, range selectors and grouping label lists are removed first; what remains that is
 * neither a function, an aggregation nor a keyword is a metric name.
 */
const NOT_METRICS = new Set([
  // aggregations (may be followed by `by (...)` before their parenthesis)
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  // binary operators and modifiers
  "and",
  "or",
  "unless",
  "bool",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
]);

export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1 ");
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const rest = text.slice(match.index + name.length).trimStart();
    if (rest.startsWith("(") || NOT_METRICS.has(name)) continue;
    names.add(name);
  }
  return [...names];
}

/** Grafana's variables as a query with every "All" selected would send them. */
export function withGrafanaVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__range", "5m")
    .replace(/\$(namespace|broker|queue|consumer)\b/g, ".*");
}
