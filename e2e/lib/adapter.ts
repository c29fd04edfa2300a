import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ControlPlane } from "./cluster.js";
import { REPO_ROOT, toolPath } from "./paths.js";
import type { Pki } from "./pki.js";
import type { ProcessGroup } from "./processes.js";
import { freePort, waitFor } from "./wait.js";

/** The project's adapter rules, as an adapter deployed without the Helm chart reads them. */
export const ADAPTER_CONFIG = join(REPO_ROOT, "monitoring", "prometheus-adapter", "config.yaml");

/** Where the APIServices point; the aggregator checks the serving certificate for `<name>.<namespace>.svc`. */
export const ADAPTER_SERVICE = { namespace: "queuescale-e2e-monitoring", name: "prometheus-adapter" } as const;
export const ADAPTER_SERVICE_DNS = `${ADAPTER_SERVICE.name}.${ADAPTER_SERVICE.namespace}.svc`;

/** How often the adapter re-reads which series exist (the chart's values.yaml sets the same). */
const RELIST_INTERVAL = "1m";

const API_GROUPS = ["external.metrics.k8s.io", "custom.metrics.k8s.io"] as const;

/**
 * Runs prometheus-adapter on loopback and registers it with the aggregation layer.
 *
 * An APIService names a Service. Endpoints may not carry loopback addresses, but the aggregator
 * (without --enable-aggregator-routing) resolves an ExternalName Service to its host name and
 * dials that, while still verifying the certificate for `<service>.<namespace>.svc`. An
 * ExternalName of `localhost` therefore reaches the adapter without a network namespace.
 */
export async function startAdapter(
  processes: ProcessGroup,
  pki: Pki,
  cluster: ControlPlane,
  prometheusUrl: string,
): Promise<void> {
  const port = await freePort();
  processes.start("prometheus-adapter", toolPath("prometheus-adapter"), [
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.adapter.cert}`,
    `--tls-private-key-file=${pki.adapter.key}`,
    `--lister-kubeconfig=${cluster.kubeconfig}`,
    `--authentication-kubeconfig=${cluster.kubeconfig}`,
    `--authorization-kubeconfig=${cluster.kubeconfig}`,
    `--prometheus-url=${prometheusUrl}`,
    `--config=${ADAPTER_CONFIG}`,
    `--metrics-relist-interval=${RELIST_INTERVAL}`,
  ]);
  const caBundle = (await readFile(pki.ca.cert)).toString("base64");
  const manifests = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ADAPTER_SERVICE.namespace } },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { ...ADAPTER_SERVICE },
      spec: { type: "ExternalName", externalName: "localhost" },
    },
    ...API_GROUPS.map((group) => ({
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: `v1beta1.${group}` },
      spec: {
        group,
        version: "v1beta1",
        service: { ...ADAPTER_SERVICE, port },
        caBundle,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    })),
  ];
  await cluster.kubectl.apply(manifests.map((manifest) => JSON.stringify(manifest)).join("\n---\n"));
  await waitFor(
    async () => {
      const status = await cluster.kubectl.json<{ status?: { conditions?: { type: string; status: string }[] } }>([
        "get",
        "apiservice",
        "v1beta1.external.metrics.k8s.io",
      ]);
      return status.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") ? true : undefined;
    },
    {
      timeoutMs: 120_000,
      what: "APIService v1beta1.external.metrics.k8s.io to become Available",
      abort: () =>
        processes.alive("prometheus-adapter")
          ? undefined
          : `prometheus-adapter exited; see ${processes.logPath("prometheus-adapter")}`,
    },
  );
}
