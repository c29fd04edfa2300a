import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
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
  options: { components?: readonly string[] } = {},
): Promise<RenderedOverlay> {
  await mkdir(dir, { recursive: true });
  const base = testOverlayDir(fixture.broker);
  const baseManifests = await build(kubectl, base);
  const namespace = baseManifests.find((manifest) => manifest.kind === "Namespace")?.metadata.name;
  if (!namespace) throw new Error(`${relative(REPO_ROOT, base)} renders no Namespace`);
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace,
    resources: [relative(dir, base)],
    configMapGenerator: Object.entries(fixture.settings).map(([name, literals]) => ({
      name,
      behavior: "merge",
      literals: Object.entries(literals).map(([key, value]) => `${key}=${value}`),
    })),
    patches: [
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
