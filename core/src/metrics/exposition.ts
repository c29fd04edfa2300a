import { Registry, type RegistryContentType } from "prom-client";

export type ExpositionFormat = "prometheus" | "openmetrics";

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, RegistryContentType>> = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
};

/** A registry whose format can be switched (prom-client's typings bind it to one). */
export type AnyRegistry = Registry<RegistryContentType>;

/** A registry that renders in the given format. */
export function createRegistry(format: ExpositionFormat = "prometheus"): AnyRegistry {
  const RegistryWithFormat = Registry as unknown as new (contentType: RegistryContentType) => AnyRegistry;
  return new RegistryWithFormat(CONTENT_TYPES[format]);
}

/**
 * Media types offered to content negotiation. `accepts` matches a requested type's parameters too,
 * so the versioned OpenMetrics types Prometheus asks for
 * (`application/openmetrics-text;version=1.0.0,…;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`)
 * must be offered with their versions, not only bare.
 */
const OFFERED_TYPES = [
  "text/plain",
  "application/openmetrics-text; version=1.0.0",
  "application/openmetrics-text; version=0.0.1",
  "application/openmetrics-text",
];

/** Picks the format from an Accept header as Prometheus sends it (OpenMetrics preferred, text as fallback). */
export function negotiateFormat(accepts: (types: string[]) => string | false): ExpositionFormat {
  const chosen = accepts(OFFERED_TYPES);
  return typeof chosen === "string" && chosen.startsWith("application/openmetrics-text") ? "openmetrics" : "prometheus";
}

const queues = new WeakMap<AnyRegistry, Promise<unknown>>();

/**
 * Renders one registry in either format. prom-client keeps the format on the registry and, when
 * rendering OpenMetrics, renames counters in place (drops `_total`), which would leak into the
 * next text-format scrape. Renders are therefore serialized per registry and counter names are
 * restored after each OpenMetrics render.
 */
export function renderRegistry(registry: AnyRegistry, format: ExpositionFormat): Promise<string> {
  const previous = queues.get(registry) ?? Promise.resolve();
  const next = previous.then(async () => {
    registry.setContentType(CONTENT_TYPES[format]);
    if (format === "prometheus") return registry.metrics();
    // prom-client's typings declare `type` a numeric enum; at run time it holds the type's name.
    const counters = registry.getMetricsAsArray().filter((metric) => String(metric.type) === "counter");
    const names = counters.map((metric) => metric.name);
    try {
      return await registry.metrics();
    } finally {
      counters.forEach((metric, index) => {
        (metric as { name: string }).name = names[index]!;
      });
    }
  });
  queues.set(
    registry,
    next.catch(() => undefined),
  );
  return next;
}

/** Joins expositions; in OpenMetrics only the last may keep its `# EOF`. */
export function joinExpositions(parts: readonly string[], format: ExpositionFormat): string {
  if (format === "prometheus") return parts.map((part) => (part.endsWith("\n") ? part : `${part}\n`)).join("\n");
  const bodies = parts
    .map((part) => part.replace(/# EOF\n?$/, ""))
    .map((part) => (part.endsWith("\n") || part === "" ? part : `${part}\n`));
  return `${bodies.join("")}# EOF\n`;
}
