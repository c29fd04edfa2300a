import { ConfigError } from "@queuescale/core";
import { parseAllDocuments } from "yaml";
import { HpaSpecError, parseHpa, type HpaSpec } from "../engine/index.js";

export type Doc = Record<string, unknown>;

function isObject(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every object of a YAML/JSON stream, with `kind: List` items (kubectl get -o yaml) unfolded. */
function objectsOf(text: string): Doc[] {
  const objects: Doc[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new ConfigError("--hpa", `not YAML or JSON: ${document.errors[0]!.message.split("\n")[0]}`);
    }
    const value: unknown = document.toJS();
    if (!isObject(value)) continue;
    if (value.kind === "List" && Array.isArray(value.items)) objects.push(...value.items.filter(isObject));
    else objects.push(value);
  }
  return objects;
}

function nameOf(object: Doc): string | undefined {
  const metadata = object.metadata;
  return isObject(metadata) && typeof metadata.name === "string" ? metadata.name : undefined;
}

/**
 * The HorizontalPodAutoscaler object of a manifest stream (a file, or `kubectl kustomize`
 * output), or a lone HPA spec, as written. `name` picks one when the stream holds several.
 */
export function pickHpaObject(text: string, name: string | undefined): Doc {
  const objects = objectsOf(text);
  let candidates = objects.filter((object) => object.kind === "HorizontalPodAutoscaler");
  if (candidates.length === 0 && objects.length === 1 && objects[0]!.kind === undefined) candidates = objects;
  if (name !== undefined) candidates = candidates.filter((object) => nameOf(object) === name);
  if (candidates.length === 0) {
    throw new ConfigError(
      name === undefined ? "--hpa" : "--name",
      name === undefined ? "holds no HorizontalPodAutoscaler" : `no HorizontalPodAutoscaler named ${name}`,
    );
  }
  if (candidates.length > 1) {
    const names = candidates.map((object) => nameOf(object) ?? "(unnamed)").join(", ");
    throw new ConfigError("--name", `required: the input holds several HorizontalPodAutoscalers (${names})`);
  }
  return candidates[0]!;
}

/** The HPA of a manifest stream, parsed for the engine. */
export function pickHpa(text: string, name: string | undefined): HpaSpec {
  return hpaOrConfigError(pickHpaObject(text, name), "--hpa");
}

/** parseHpa, with a bad field reported as a bad setting (exit 2). */
export function hpaOrConfigError(input: unknown, setting: string): HpaSpec {
  try {
    return parseHpa(input);
  } catch (error) {
    if (error instanceof HpaSpecError) {
      throw new ConfigError(setting === "hpa" ? `hpa.${error.path}` : `${setting} ${error.path}`, error.detail);
    }
    throw error;
  }
}
