import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import type { LabelSelector } from "./selector.js";

/** A raw HorizontalPodAutoscaler object as found in a manifest stream. */
export interface RawHpa {
  kind?: string;
  metadata?: { name?: string };
  spec?: { metrics?: { type?: string; external?: { metric?: { name?: string; selector?: LabelSelector } } }[] };
}

/** Reads a (multi-document) YAML or JSON manifest stream from a file, or stdin for `-`. */
export function readManifestText(path: string): string {
  return readFileSync(path === "-" ? 0 : path, "utf8");
}

/**
 * Picks the HorizontalPodAutoscaler out of `kubectl kustomize` output (or a single manifest).
 * With several, `name` chooses; a List's items are searched too.
 */
export function pickHpa(text: string, name?: string): RawHpa {
  const objects: RawHpa[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`manifest is not valid YAML: ${document.errors[0]!.message}`);
    const value = document.toJS() as (RawHpa & { items?: RawHpa[] }) | null;
    if (!value) continue;
    objects.push(...(Array.isArray(value.items) ? value.items : [value]));
  }
  const hpas = objects.filter((object) => object.kind === "HorizontalPodAutoscaler");
  const matching = name === undefined ? hpas : hpas.filter((hpa) => hpa.metadata?.name === name);
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0) {
    throw new Error(
      name === undefined ? "no HorizontalPodAutoscaler in the manifest" : `no HorizontalPodAutoscaler named ${name}`,
    );
  }
  const names = matching.map((hpa) => hpa.metadata?.name).join(", ");
  throw new Error(`several HorizontalPodAutoscalers (${names}): choose one with --name`);
}

/** Name and selector of each External metric of the HPA; undefined for other metric types. */
export function externalMetricQueries(
  hpa: RawHpa,
): ({ name: string; selector: LabelSelector | undefined } | undefined)[] {
  return (hpa.spec?.metrics ?? []).map((metric) =>
    metric.type === "External" && metric.external?.metric?.name
      ? { name: metric.external.metric.name, selector: metric.external.metric.selector }
      : undefined,
  );
}
