import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ControlPlane } from "./cluster.js";
import { writeKubeconfig } from "./kubectl.js";
import { TOOLS_BIN, toolPath } from "./paths.js";
import type { Pki } from "./pki.js";
import type { ProcessGroup } from "./processes.js";
import { freePort, waitFor } from "./wait.js";

/** Pinned in tools/keda/go.mod and scripts/e2e-tools.sh, which copies the module's manifests here. */
export const KEDA_VERSION = "v2.21.0";
export const KEDA_CONFIG = join(TOOLS_BIN, "..", "keda", KEDA_VERSION, "config");

/** Where KEDA's own manifests put it: its service account, Role and the metrics server's Service. */
const KEDA_NAMESPACE = "keda";
const METRICS_SERVICE = "keda-metrics-apiserver";
/** The names KEDA's certificate is made for (as KEDA's own certificate rotation makes it). */
export const KEDA_SERVICE_DNS = [
  `${METRICS_SERVICE}.${KEDA_NAMESPACE}.svc`,
  `keda-operator.${KEDA_NAMESPACE}.svc`,
] as const;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

async function manifestsIn(dir: string, files?: readonly string[]): Promise<Manifest[]> {
  const names = files ?? (await readdir(dir)).filter((name) => name.endsWith(".yaml") && name !== "kustomization.yaml");
  const manifests: Manifest[] = [];
  for (const name of names) {
    for (const document of parseAllDocuments(await readFile(join(dir, name), "utf8"))) {
      const manifest = document.toJS() as Manifest | null;
      if (manifest?.kind) manifests.push(manifest);
    }
  }
  return manifests;
}

/**
 * KEDA as the cluster's `external.metrics.k8s.io` provider, instead of Prometheus Adapter: its CRDs,
 * service account, RBAC and APIService from the KEDA module of the pinned version, and its two
 * processes on loopback: the operator (which turns ScaledObjects into HPAs and serves the metric
 * values over gRPC) and the metrics API server (which the aggregator calls for the HPA controller).
 *
 * Both authenticate to the API server as KEDA's service account (a client certificate for
 * `system:serviceaccount:keda:keda-operator`), so KEDA's own RBAC is what lets them work. They
 * talk to each other with mutual TLS on one certificate, as KEDA's certificate rotation would set
 * up. The APIService names an ExternalName Service for `localhost`, as the adapter mode does (see
 * adapter.ts), since Endpoints may not hold loopback addresses.
 */
export async function startKeda(dir: string, processes: ProcessGroup, pki: Pki, cluster: ControlPlane): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { kubectl } = cluster;
  const crds = await manifestsIn(join(KEDA_CONFIG, "crd", "bases"));
  await kubectl.apply(crds.map((crd) => JSON.stringify(crd)).join("\n---\n"));
  await kubectl.run([
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    ...crds.map((crd) => `crd/${crd.metadata.name}`),
  ]);

  const access = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: KEDA_NAMESPACE } },
    ...(await manifestsIn(join(KEDA_CONFIG, "service_account"))),
    ...(await manifestsIn(join(KEDA_CONFIG, "rbac"))),
    ...(await manifestsIn(join(KEDA_CONFIG, "metrics-server"), ["role.yaml", "role_binding.yaml"])),
  ];
  await kubectl.apply(access.map((manifest) => JSON.stringify(manifest)).join("\n---\n"));

  // The certificate directory both processes read: ca.crt, tls.crt, tls.key, as KEDA's Secret holds them.
  const certDir = join(dir, "certs");
  await mkdir(certDir, { recursive: true });
  await copyFile(pki.ca.cert, join(certDir, "ca.crt"));
  await copyFile(pki.keda.cert, join(certDir, "tls.crt"));
  await copyFile(pki.keda.key, join(certDir, "tls.key"));
  const kubeconfig = join(dir, "keda.kubeconfig");
  await writeKubeconfig(kubeconfig, cluster.apiserverUrl, pki.ca.cert, pki.kedaIdentity);
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfig,
    WATCH_NAMESPACE: "",
    POD_NAMESPACE: KEDA_NAMESPACE,
    POD_NAME: "keda-operator",
    KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE,
  };

  const grpcPort = await freePort();
  const probePort = await freePort();
  processes.start(
    "keda-operator",
    toolPath("keda-operator"),
    [
      "--leader-elect=false",
      "--enable-cert-rotation=false",
      `--cert-dir=${certDir}`,
      `--ca-dir=${certDir}`,
      `--metrics-service-bind-address=127.0.0.1:${grpcPort}`,
      `--metrics-bind-address=127.0.0.1:${await freePort()}`,
      `--health-probe-bind-address=127.0.0.1:${probePort}`,
      "--zap-log-level=info",
      "--zap-encoder=console",
    ],
    { env },
  );
  const abortIfDead = (name: string) => () =>
    processes.alive(name) ? undefined : `${name} exited; see ${processes.logPath(name)}`;
  await waitFor(
    async () => {
      const response = await fetch(`http://127.0.0.1:${probePort}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok ? true : undefined;
    },
    { timeoutMs: 120_000, what: "keda-operator /readyz", abort: abortIfDead("keda-operator") },
  );

  const securePort = await freePort();
  processes.start(
    "keda-metrics-apiserver",
    toolPath("keda-adapter"),
    [
      "--bind-address=127.0.0.1",
      `--secure-port=${securePort}`,
      `--tls-cert-file=${join(certDir, "tls.crt")}`,
      `--tls-private-key-file=${join(certDir, "tls.key")}`,
      `--client-ca-file=${join(certDir, "ca.crt")}`,
      `--cert-dir=${certDir}`,
      `--metrics-service-address=127.0.0.1:${grpcPort}`,
      // Its own /metrics, which would otherwise take :8080 on every interface.
      `--port=${await freePort()}`,
      `--lister-kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--zap-log-level=info",
    ],
    { env },
  );

  // KEDA's APIService as its module ships it, pointed at the loopback port and trusting the run's CA.
  const [apiService] = await manifestsIn(join(KEDA_CONFIG, "metrics-server"), ["api_service.yaml"]);
  if (apiService?.kind !== "APIService")
    throw new Error(`${KEDA_CONFIG}/metrics-server/api_service.yaml: no APIService`);
  const service = apiService.spec?.service as { name: string; namespace: string } | undefined;
  if (service?.name !== METRICS_SERVICE || service.namespace !== KEDA_NAMESPACE) {
    throw new Error(`KEDA's APIService names ${JSON.stringify(service)}, not ${METRICS_SERVICE}.${KEDA_NAMESPACE}`);
  }
  const caBundle = (await readFile(pki.ca.cert)).toString("base64");
  const registration = [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: METRICS_SERVICE, namespace: KEDA_NAMESPACE },
      spec: { type: "ExternalName", externalName: "localhost" },
    },
    {
      ...apiService,
      spec: { ...apiService.spec, insecureSkipTLSVerify: false, service: { ...service, port: securePort }, caBundle },
    },
  ];
  await kubectl.apply(registration.map((manifest) => JSON.stringify(manifest)).join("\n---\n"));
  await waitFor(
    async () => {
      const status = await kubectl.json<{ status?: { conditions?: { type: string; status: string }[] } }>([
        "get",
        "apiservice",
        apiService.metadata.name,
      ]);
      return status.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") ? true : undefined;
    },
    {
      timeoutMs: 120_000,
      what: `APIService ${apiService.metadata.name} (KEDA's metrics server) to become Available`,
      abort: abortIfDead("keda-metrics-apiserver"),
    },
  );
}
