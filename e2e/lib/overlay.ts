import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { readFile } from "node:fs/promises";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { BrokerFixture } from "../brokers/types.js";
import { REPO_ROOT } from "./paths.js";
import type { Kubectl } from "./kubectl.js";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderedOverlay {
  readonly namespace: string;
  /** The YAML stream `kubectl apply` gets. */
  readonly yaml: string;
  readonly manifests: Manifest[];
}

/**
 * Who serves `external.metrics.k8s.io` and makes the HPA: Prometheus Adapter with the overlay's own
 * HPA, or KEDA with the broker's ScaledObject component (k8s/components/keda/<broker>).
 */
export type Engine = "adapter" | "keda";
export const ENGINES: readonly Engine[] = ["adapter", "keda"];

/** k8s/components/keda/<broker>: the ScaledObject that replaces the overlay's HPA under KEDA. */
export function kedaComponentDir(broker: string): string {
  return join(REPO_ROOT, "k8s", "components", "keda", broker);
}

export interface RenderOptions {
  /** adapter by default. */
  readonly engine?: Engine;
  /**
   * KEDA mode's trigger: `prometheus` (k8s/components/keda/<broker>, the default) or `external`
   * (k8s/components/keda-external: the exporter as KEDA's external scaler).
   */
  readonly trigger?: "prometheus" | "external";
  /** Where the KEDA operator (on the host) reaches Prometheus: required for KEDA's Prometheus trigger. */
  readonly prometheusUrl?: string;
  /** Project components (repository paths) applied on top, e.g. k8s/components/drain-time. */
  readonly components?: readonly string[];
}

/** e2e/overlays/<broker>: the project's overlay plus the test-only changes (e2e/overlays/real-node). */
export function testOverlayDir(broker: string): string {
  return join(REPO_ROOT, "e2e", "overlays", broker);
}

/**
 * Renders the broker's test overlay with this run's queue names on top: a kustomization in the
 * run's directory (kustomize refuses absolute resource paths, so it names the overlay relatively)
 * that merges the fixture's settings into the generated ConfigMaps and points the HPA's metric
 * selector at the fixture's queue; then the given project components (e.g. k8s/components/drain-time).
 */
export async function renderOverlay(
  dir: string,
  fixture: BrokerFixture,
  kubectl: Kubectl,
  options: RenderOptions = {},
): Promise<RenderedOverlay> {
  await mkdir(dir, { recursive: true });
  const base = testOverlayDir(fixture.broker);
  const baseManifests = await build(kubectl, base);
  const external = options.trigger === "external";
  const namespace = baseManifests.find((manifest) => manifest.kind === "Namespace")?.metadata.name;
  if (!namespace) throw new Error(`${relative(REPO_ROOT, base)} renders no Namespace`);
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace,
    resources: [relative(dir, base)],
    ...(options.engine === "keda"
      ? {
          components: [
            relative(dir, external ? EXTERNAL_COMPONENT : kedaComponentDir(fixture.broker)),
            relative(dir, join(REPO_ROOT, "e2e", "overlays", "keda-real-node")),
          ],
        }
      : {}),
    configMapGenerator: Object.entries(fixture.settings).map(([name, literals]) => ({
      name,
      behavior: "merge",
      literals: Object.entries(literals).map(([key, value]) => `${key}=${value}`),
    })),
    patches: [
      ...(options.engine !== "keda"
        ? []
        : external
          ? [externalScaledObjectPatch(fixture)]
          : [await scaledObjectPatch(fixture, namespace, requirePrometheusUrl(options))]),
      {
        target: { kind: "HorizontalPodAutoscaler", name: "queuescale-worker" },
        patch: JSON.stringify([
          {
            op: "replace",
            path: "/spec/metrics/0/external/metric/selector",
            value: { matchLabels: fixture.selector },
          },
        ]),
      },
    ],
  };
  const components = options.components ?? [];
  if (components.length === 0) {
    await writeFile(join(dir, "kustomization.yaml"), stringify(kustomization));
  } else {
    // Kustomize applies a kustomization's components before its own patches: the fixture's
    // selector goes one level down, so that components (repository paths) see the HPA as a user's
    // overlay would, its queue already named.
    const fixtureDir = join(dir, "fixture");
    await mkdir(fixtureDir, { recursive: true });
    await writeFile(
      join(fixtureDir, "kustomization.yaml"),
      stringify({ ...kustomization, resources: [relative(fixtureDir, base)] }),
    );
    const outer = {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      namespace,
      resources: ["fixture"],
      components: components.map((component) => relative(dir, join(REPO_ROOT, component))),
    };
    await writeFile(join(dir, "kustomization.yaml"), stringify(outer));
  }
  const yaml = await kubectl.run(["kustomize", dir]);
  return { namespace, yaml, manifests: parseManifests(yaml) };
}

function requirePrometheusUrl(options: RenderOptions): string {
  if (!options.prometheusUrl) throw new Error("KEDA's Prometheus trigger needs the run's Prometheus URL");
  return options.prometheusUrl;
}

/**
 * Points the component's Prometheus trigger at the run's Prometheus and queue. Only the query's
 * matchers change (`{namespace=…, broker=…, …}`): its `max by (…)` and metric stay the component's.
 */
async function scaledObjectPatch(fixture: BrokerFixture, namespace: string, prometheusUrl: string) {
  const path = join(kedaComponentDir(fixture.broker), "scaledobject.yaml");
  const scaledObject = parse(await readFile(path, "utf8")) as {
    spec: { triggers: { type: string; metadata: { query: string } }[] };
  };
  const trigger = scaledObject.spec.triggers[0];
  if (trigger?.type !== "prometheus")
    throw new Error(`${relative(REPO_ROOT, path)}: the first trigger is not prometheus`);
  const matchers = Object.entries({ namespace, ...fixture.selector })
    .map(([label, value]) => `${label}=${JSON.stringify(value)}`)
    .join(", ");
  const query = trigger.metadata.query.replace(/\{[^}]*\}/, `{${matchers}}`);
  return {
    target: { kind: "ScaledObject", name: "queuescale-worker" },
    patch: JSON.stringify([
      { op: "replace", path: "/spec/triggers/0/metadata/query", value: query },
      { op: "replace", path: "/spec/triggers/0/metadata/serverAddress", value: prometheusUrl },
    ]),
  };
}

/** k8s/components/keda-external: the exporter as KEDA's external scaler, for either overlay. */
export const EXTERNAL_COMPONENT = join(REPO_ROOT, "k8s", "components", "keda-external");

/**
 * The external-push trigger names the run's queue (the component copies the overlay's HPA selector,
 * which the run's own patch changes only later). Test-only: the worker may go to 0
 * (`minReplicaCount: 0`) and back to 0 after 30 s without work instead of KEDA's default 300 s
 * `cooldownPeriod`. The trigger's scalerAddress is set once the exporter pods run (scale-to-zero.ts).
 */
function externalScaledObjectPatch(fixture: BrokerFixture) {
  return {
    target: { kind: "ScaledObject", name: "queuescale-worker" },
    patch: JSON.stringify([
      ...Object.entries(fixture.selector).map(([key, value]) => ({
        op: "add",
        path: `/spec/triggers/0/metadata/${key}`,
        value,
      })),
      { op: "replace", path: "/spec/minReplicaCount", value: 0 },
      { op: "add", path: "/spec/cooldownPeriod", value: EXTERNAL_COOLDOWN_SECONDS },
    ]),
  };
}

/** The external-scaler phase's cooldownPeriod (KEDA's default is 300 s). */
export const EXTERNAL_COOLDOWN_SECONDS = 30;

async function build(kubectl: Kubectl, dir: string): Promise<Manifest[]> {
  return parseManifests(await kubectl.run(["kustomize", dir]));
}

function parseManifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

export function findManifest(overlay: RenderedOverlay, kind: string, name: string): Manifest {
  const found = overlay.manifests.find((manifest) => manifest.kind === kind && manifest.metadata.name === name);
  if (!found) throw new Error(`the overlay for ${overlay.namespace} has no ${kind} ${name}`);
  return found;
}
