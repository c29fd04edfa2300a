import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual, promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import type { ControlPlane } from "./cluster.js";
import { REPO_ROOT, TOOLS_BIN, toolPath } from "./paths.js";
import type { Pki } from "./pki.js";
import type { ProcessGroup } from "./processes.js";
import { freePort, waitFor } from "./wait.js";

/** The project's adapter rules, as an adapter deployed without the Helm chart reads them. */
export const ADAPTER_CONFIG = join(REPO_ROOT, "monitoring", "prometheus-adapter", "config.yaml");
/** The chart values users install the adapter with. */
export const ADAPTER_VALUES = join(REPO_ROOT, "monitoring", "prometheus-adapter", "values.yaml");
/** The prometheus-community chart, pinned; scripts/e2e-tools.sh puts it here. */
export const ADAPTER_CHART_VERSION = "5.3.0";
export const ADAPTER_CHART = join(TOOLS_BIN, "..", "charts", `prometheus-adapter-${ADAPTER_CHART_VERSION}.tgz`);

export interface RenderedAdapter {
  /** The rendered ConfigMap's config.yaml, written to the run's directory. */
  readonly configPath: string;
  /** The Deployment's --metrics-relist-interval. */
  readonly relistInterval: string;
  /** True when the chart's rules are exactly monitoring/prometheus-adapter/config.yaml's. */
  readonly sameRulesAsConfigYaml: boolean;
}

interface RenderedObject {
  kind?: string;
  data?: Record<string, string>;
  spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } };
}

/**
 * Renders the chart as users install it (`helm template … -f monitoring/prometheus-adapter/values.yaml`)
 * and takes the rules from its ConfigMap and the relist interval from its Deployment.
 */
export async function renderAdapterChart(dir: string): Promise<RenderedAdapter> {
  const { stdout } = await promisify(execFile)(
    toolPath("helm"),
    ["template", "prometheus-adapter", ADAPTER_CHART, "--namespace", "monitoring", "-f", ADAPTER_VALUES],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const objects = parseAllDocuments(stdout).map((document) => document.toJS() as RenderedObject | null);
  const configText = objects.find((object) => object?.kind === "ConfigMap" && object.data?.["config.yaml"])?.data?.[
    "config.yaml"
  ];
  if (!configText) throw new Error("helm template rendered no ConfigMap with config.yaml");
  const args =
    objects.find((object) => object?.kind === "Deployment")?.spec?.template?.spec?.containers?.[0]?.args ?? [];
  const relistInterval =
    args.find((arg) => arg.startsWith("--metrics-relist-interval="))?.split("=")[1] ?? RELIST_INTERVAL;
  const configPath = join(dir, "adapter-config.yaml");
  await writeFile(configPath, configText);
  const shipped = parse(await readFile(ADAPTER_CONFIG, "utf8")) as unknown;
  return { configPath, relistInterval, sameRulesAsConfigYaml: isDeepStrictEqual(parse(configText), shipped) };
}

/** Where the APIServices point; the aggregator checks the serving certificate for `<name>.<namespace>.svc`. */
export const ADAPTER_SERVICE = { namespace: "queuescale-e2e-monitoring", name: "prometheus-adapter" } as const;
export const ADAPTER_SERVICE_DNS = `${ADAPTER_SERVICE.name}.${ADAPTER_SERVICE.namespace}.svc`;

/** The adapter's default relist interval, should the chart not set one. */
const RELIST_INTERVAL = "1m";

const API_GROUPS = ["external.metrics.k8s.io", "custom.metrics.k8s.io"] as const;

/**
 * Runs prometheus-adapter on loopback with the chart's rules and registers it with the aggregation
 * layer.
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
  rendered: RenderedAdapter,
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
    `--config=${rendered.configPath}`,
    `--metrics-relist-interval=${rendered.relistInterval}`,
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
