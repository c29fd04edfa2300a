import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Kubectl, writeKubeconfig } from "./kubectl.js";
import { toolPath } from "./paths.js";
import type { Pki } from "./pki.js";
import type { ProcessGroup } from "./processes.js";
import { freePort, httpOk, waitFor } from "./wait.js";

/** How often the HPA controller re-evaluates every HPA (the default is 15 s). */
export const HPA_SYNC_PERIOD_SECONDS = 5;

export interface ControlPlane {
  readonly apiserverUrl: string;
  readonly kubeconfig: string;
  readonly kubectl: Kubectl;
}

const START_TIMEOUT_MS = 120_000;

/**
 * etcd, kube-apiserver (with the aggregation layer), kube-controller-manager and kube-scheduler,
 * all on loopback, all state under `dir`. The node (a real kubelet) joins afterwards (node.ts).
 * There is no kube-proxy: nothing here sends traffic to a Service's cluster IP.
 */
export async function startControlPlane(dir: string, processes: ProcessGroup, pki: Pki): Promise<ControlPlane> {
  await mkdir(dir, { recursive: true });
  const abortIfDead = (name: string) => () =>
    processes.alive(name) ? undefined : `${name} exited; see ${processes.logPath(name)}`;

  const etcdClientPort = await freePort();
  const etcdPeerPort = await freePort();
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  processes.start("etcd", toolPath("etcd"), [
    "--name=e2e",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=e2e=http://127.0.0.1:${etcdPeerPort}`,
    "--listen-metrics-urls=",
    "--log-level=warn",
    // A test cluster lives minutes; fsync on every write only slows it on a busy disk.
    "--unsafe-no-fsync",
  ]);
  await waitFor(() => httpOk(`${etcdUrl}/health`), {
    timeoutMs: START_TIMEOUT_MS,
    what: "etcd /health",
    abort: abortIfDead("etcd"),
  });

  const apiserverPort = await freePort();
  const apiserverUrl = `https://127.0.0.1:${apiserverPort}`;
  processes.start("kube-apiserver", toolPath("kube-apiserver"), [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiserverPort}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    "--authorization-mode=RBAC",
    "--service-cluster-ip-range=10.96.0.0/16",
    // The `kubernetes` Service would get an Endpoints object with this loopback address, which
    // Endpoints validation rejects; no client here needs it.
    "--endpoint-reconciler-type=none",
    "--service-account-issuer=https://kubernetes.default.svc",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    // Aggregation layer: the apiserver proxies external.metrics.k8s.io to the adapter with a
    // front-proxy client certificate and the caller's identity in X-Remote-* headers.
    `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
    `--proxy-client-key-file=${pki.frontProxyClient.key}`,
    "--profiling=false",
  ]);
  const kubeconfig = join(dir, "admin.kubeconfig");
  await writeKubeconfig(kubeconfig, apiserverUrl, pki.ca.cert, pki.admin);
  const kubectl = new Kubectl(kubeconfig);
  await waitFor(async () => ((await kubectl.run(["get", "--raw", "/readyz"])).trim() === "ok" ? true : undefined), {
    timeoutMs: START_TIMEOUT_MS,
    what: "kube-apiserver /readyz",
    abort: abortIfDead("kube-apiserver"),
  });

  const controllerManagerPort = await freePort();
  processes.start("kube-controller-manager", toolPath("kube-controller-manager"), [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${controllerManagerPort}`,
    "--leader-elect=false",
    "--use-service-account-credentials=false",
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.ca.cert}`,
    `--horizontal-pod-autoscaler-sync-period=${HPA_SYNC_PERIOD_SECONDS}s`,
    "--profiling=false",
  ]);
  const schedulerPort = await freePort();
  processes.start("kube-scheduler", toolPath("kube-scheduler"), [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${schedulerPort}`,
    "--leader-elect=false",
    "--profiling=false",
  ]);
  for (const name of ["kube-controller-manager", "kube-scheduler"]) {
    await waitFor(async () => (processes.alive(name) ? true : undefined), { timeoutMs: 1_000, what: name });
  }

  // The namespace controller of kube-controller-manager creates `default` service accounts; pods
  // of the overlays name their own, but the ServiceAccount admission plugin wants the namespace's.
  await waitFor(async () => (await kubectl.run(["get", "serviceaccount", "default", "-n", "default"])) && true, {
    timeoutMs: START_TIMEOUT_MS,
    what: "kube-controller-manager to create the default service account",
    abort: abortIfDead("kube-controller-manager"),
  });
  return { apiserverUrl, kubeconfig, kubectl };
}
