import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const run = promisify(execFile);

/** A rendered Kubernetes object, loosely typed: tests read the fields they check. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

/** A tool scripts/tools.sh installs; a missing one fails the test with the command that installs it. */
export function tool(name: string): string {
  const path = join(REPO_ROOT, ".tools", "bin", name);
  if (!existsSync(path)) throw new Error(`${name} is missing: run \`make tools\` (scripts/tools.sh)`);
  return path;
}

/** Directories of CRDs scripts/tools.sh fetched: the Prometheus Operator's and KEDA's. */
export function crdDirectories(): string[] {
  return ["prometheus-operator", "keda"].map((name) => {
    const path = join(REPO_ROOT, ".tools", "crds", name);
    if (!existsSync(path)) throw new Error(`${name} CRDs are missing: run \`make tools\` (scripts/tools.sh)`);
    return path;
  });
}

/** `kubectl kustomize DIR`, as text and as objects. */
export async function kustomize(dir: string): Promise<{ text: string; objects: K8sObject[] }> {
  const { stdout } = await run("kubectl", ["kustomize", dir], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  const objects = parseAllDocuments(stdout).map((document) => {
    if (document.errors.length > 0) throw document.errors[0];
    return document.toJS() as K8sObject;
  });
  return { text: stdout, objects };
}

/**
 * A throw-away kustomization under .tmp/ that combines an overlay with components, as a user's own
 * overlay would (docs/kubernetes.md): components are applied after the overlay's namespace, so it
 * sets the namespace again.
 */
export function composedKustomization(overlay: string, components: string[], namespace: string): string {
  const dir = join(REPO_ROOT, ".tmp");
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, "kustomize-"));
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace,
    resources: [relative(work, join(REPO_ROOT, overlay))],
    components: components.map((component) => relative(work, join(REPO_ROOT, component))),
  };
  writeFileSync(join(work, "kustomization.yaml"), stringify(kustomization));
  return work;
}

/**
 * Kustomize wraps generated Secret data at 70 columns. The API server's base64 decoder skips the
 * line breaks; kubectl-validate's `format: byte` check does not, so they are joined before validating.
 */
export function joinWrappedSecretData(objects: K8sObject[]): K8sObject[] {
  return objects.map((object) => {
    if (object.kind !== "Secret" || !object.data) return object;
    const data = Object.fromEntries(
      Object.entries(object.data as Record<string, string>).map(([key, value]) => [key, value.replace(/\s+/g, "")]),
    );
    return { ...object, data };
  });
}

export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
}

/** A generated ConfigMap keeps its base name before kustomize's hash suffix. */
export function findGenerated(objects: K8sObject[], kind: string, baseName: string): K8sObject {
  const found = objects.find(
    (object) => object.kind === kind && new RegExp(`^${baseName}-[a-z0-9]{10}$`).test(object.metadata.name),
  );
  if (!found) throw new Error(`no generated ${kind} ${baseName} in the rendered manifests`);
  return found;
}
