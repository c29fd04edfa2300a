import type { LabelSelector } from "./selector.js";

/** The part of a raw HorizontalPodAutoscaler object the local autoscaler reads besides the engine's spec. */
interface RawHpa {
  spec?: { metrics?: { type?: string; external?: { metric?: { name?: string; selector?: LabelSelector } } }[] };
}

/**
 * Name and selector of each External metric of the HPA (undefined for other metric types): the
 * engine's spec keeps only what the algorithm needs, the selector says which series to read.
 */
export function externalMetricQueries(
  hpa: unknown,
): ({ name: string; selector: LabelSelector | undefined } | undefined)[] {
  return ((hpa as RawHpa).spec?.metrics ?? []).map((metric) =>
    metric.type === "External" && metric.external?.metric?.name
      ? { name: metric.external.metric.name, selector: metric.external.metric.selector }
      : undefined,
  );
}
