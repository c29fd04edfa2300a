import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BROKER_ADAPTERS,
  BROKERS,
  createLogger,
  DEPTH_METRICS,
  depthLabels,
  IDENTITY_LABELS,
  readSettings,
  RESERVED_LABELS,
  type BrokerName,
} from "@queuescale/core";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildSources } from "../../exporter/src/exporter.js";
import { exporterSettings } from "../../exporter/src/settings.js";
import { parseScalerMetadata } from "../../exporter/src/scaler/metadata.js";
import { producerSettings } from "../../producer/src/settings.js";
import { workerSettings } from "../../worker/src/settings.js";
import {
  REPO_ROOT,
  composedKustomization,
  findGenerated,
  findObject,
  joinWrappedSecretData,
  kustomize,
  crdDirectories,
  run,
  tool,
  type K8sObject,
} from "./render.js";
import { adapterConfig } from "../../monitoring/test/support/adapter.js";

const OVERLAYS = readdirSync(join(REPO_ROOT, "k8s/overlays")).sort();
/**
 * Components that go together; keda (one per broker) and keda-external replace the HPA and are
 * checked on their own, and every overlay already includes network-policy.
 */
const COMPONENTS = readdirSync(join(REPO_ROOT, "k8s/components"))
  .filter((name) => !name.startsWith("keda") && name !== "network-policy")
  .sort()
  .map((name) => `k8s/components/${name}`);
/** Which broker each overlay's HPA scales on. */
const OVERLAY_BROKER: Record<string, BrokerName> = { rabbitmq: "rabbitmq", nats: "nats", dev: "rabbitmq" };
const KUBERNETES_VERSION = "1.30";
/** The External metric of the drain-time component (Prometheus Adapter's name for the recorded series). */
const DRAIN_TIME_METRIC = "queuescale_queue_required_replicas";
const WORKLOADS = ["queuescale-worker", "queuescale-exporter", "queuescale-producer"];
/** Each workload's settings, as its program declares them. */
const SETTINGS: Record<string, Record<string, unknown>> = {
  "queuescale-worker": workerSettings,
  "queuescale-exporter": exporterSettings,
  "queuescale-producer": producerSettings,
};

/** The environment a workload's container gets: its ConfigMap (envFrom) and its own env. */
function workloadEnv(objects: K8sObject[], name: string): Record<string, string> {
  const container = findObject(objects, "Deployment", name).spec.template.spec.containers[0];
  const config = findObject(objects, "ConfigMap", container.envFrom[0].configMapRef.name).data as Record<
    string,
    string
  >;
  const own = (container.env as Array<{ name: string; value: string }>).map((entry) => [entry.name, entry.value]);
  return { ...config, ...Object.fromEntries(own) };
}

/** Keys of the broker Secret a workload must never hold, whatever the overlay. */
const FORBIDDEN_KEYS: Record<string, string[]> = {
  // Runs user code: no admin token, no monitoring credentials.
  "queuescale-worker": ["admin-token", "rabbitmq-management-url", "nats-exporter-url"],
  // Only reads: nothing that can publish or consume, no admin token.
  "queuescale-exporter": ["rabbitmq-url", "nats-url", "admin-token"],
  "queuescale-producer": ["rabbitmq-management-url", "nats-exporter-url"],
};
/** The broker ports each workload may reach (docs/kubernetes.md); DNS besides. */
const EGRESS_PORTS: Record<string, (number | string)[]> = {
  "queuescale-worker": [53, 5672, 5671, 4222],
  "queuescale-exporter": [53, 15672, 15692, 4222, 8222],
  "queuescale-producer": [53, 5672, 5671, 15672, 4222],
};
/** The label a pod carries to reach the producer's API (docs/kubernetes.md). */
const PRODUCER_CLIENT_LABEL = "queuescale.io/producer-client";

interface SecretVolume {
  name: string;
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
}
interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: unknown;
}
interface PolicyRule {
  ports?: Array<{ port: number | string; protocol?: string }>;
  to?: PolicyPeer[];
  from?: PolicyPeer[];
}

/** True when a NetworkPolicy podSelector (matchLabels only, as the manifests use) selects these labels. */
function selects(selector: { matchLabels?: Record<string, string> }, labels: Record<string, string>): boolean {
  return Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

/** Kubernetes label values (and so HPA selector values): at most 63 characters of this form. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

// .tmp/ is git-ignored: a fresh clone does not have it yet.
mkdirSync(join(REPO_ROOT, ".tmp"), { recursive: true });
const scratch = mkdtempSync(join(REPO_ROOT, ".tmp", "manifests-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function validate(name: string, objects: K8sObject[]): Promise<void> {
  const file = join(scratch, `${name}.yaml`);
  writeFileSync(
    file,
    joinWrappedSecretData(objects)
      .map((object) => stringify(object))
      .join("---\n"),
  );
  // Offline: built-in schemas of the given Kubernetes version, CRDs from the operator's module.
  const { stdout } = await run(
    tool("kubectl-validate"),
    [
      "--version",
      KUBERNETES_VERSION,
      ...crdDirectories().flatMap((dir) => ["--local-crds", dir]),
      "--output",
      "json",
      file,
    ],
    { cwd: REPO_ROOT },
  ).catch((error: { stdout?: string; message: string }) => {
    throw new Error(`kubectl-validate rejected ${name}:\n${error.stdout ?? error.message}`, { cause: error });
  });
  const results = JSON.parse(stdout) as Record<string, Array<{ status: string; message?: string }>>;
  const problems = Object.values(results)
    .flat()
    .filter((result) => result.status !== "Success");
  expect(problems).toEqual([]);
  expect(Object.values(results).flat()).toHaveLength(objects.length);
}

describe("kustomize overlays", () => {
  it("has the overlays the docs promise", () => {
    expect(OVERLAYS).toEqual(["dev", "nats", "rabbitmq"]);
  });

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const rendered = kustomize(`k8s/overlays/${overlay}`);

      it("renders and every object passes kubectl-validate against Kubernetes 1.30 schemas", async () => {
        const { objects } = await rendered;
        expect(objects.length).toBeGreaterThan(10);
        await validate(overlay, objects);
      });

      it("HPA: External queue-depth metric, AverageValue target, the documented behavior", async () => {
        const hpa = findObject((await rendered).objects, "HorizontalPodAutoscaler", "queuescale-worker");
        expect(hpa.apiVersion).toBe("autoscaling/v2");
        expect(hpa.spec.scaleTargetRef).toEqual({
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: "queuescale-worker",
        });
        expect(hpa.spec.minReplicas).toBe(1);
        expect(hpa.spec.maxReplicas).toBe(50);
        const [depth] = hpa.spec.metrics;
        expect(depth.type).toBe("External");
        expect(depth.external.metric.name).toBe(DEPTH_METRICS.depth.name);
        expect(depth.external.target).toEqual({ type: "AverageValue", averageValue: "100" });
        expect(hpa.spec.metrics.some((metric: { type: string }) => metric.type === "Pods")).toBe(false);
        expect(hpa.spec.behavior).toEqual({
          scaleUp: {
            stabilizationWindowSeconds: 0,
            selectPolicy: "Max",
            policies: [
              { type: "Percent", value: 100, periodSeconds: 15 },
              { type: "Pods", value: 4, periodSeconds: 15 },
            ],
          },
          scaleDown: {
            stabilizationWindowSeconds: 300,
            selectPolicy: "Min",
            policies: [{ type: "Percent", value: 10, periodSeconds: 60 }],
          },
        });
      });

      it("HPA selector names one queue by exactly the labels the exporter publishes", async () => {
        const { objects } = await rendered;
        const hpa = findObject(objects, "HorizontalPodAutoscaler", "queuescale-worker");
        const broker = OVERLAY_BROKER[overlay]!;
        const selector = hpa.spec.metrics[0].external.metric.selector as { matchLabels: Record<string, string> };
        expect(Object.keys(selector).sort()).toEqual(["matchLabels"]);
        expect(Object.keys(selector.matchLabels).sort()).toEqual(["broker", ...IDENTITY_LABELS[broker]].sort());
        expect(DEPTH_METRICS.depth.labels).toEqual(expect.arrayContaining(Object.keys(selector.matchLabels)));
        expect(BROKERS).toContain(selector.matchLabels.broker);
        expect(selector.matchLabels.broker).toBe(broker);
        for (const label of RESERVED_LABELS) expect(selector.matchLabels).not.toHaveProperty(label);
        for (const value of Object.values(selector.matchLabels)) {
          expect(value.length).toBeLessThanOrEqual(63);
          expect(value).toMatch(LABEL_VALUE);
        }
        // The HPA watches the queue the workers consume.
        const workerConfig = findGenerated(objects, "ConfigMap", "queuescale-worker").data as Record<string, string>;
        expect(workerConfig.BROKER).toBe(broker);
        if (broker === "rabbitmq") {
          expect(workerConfig.QUEUE).toBe(selector.matchLabels.queue);
        } else {
          expect(workerConfig.STREAM).toBe(selector.matchLabels.stream);
          expect(workerConfig.CONSUMER).toBe(selector.matchLabels.consumer);
        }
      });

      it("workloads run hardened, probed and bounded", async () => {
        const { objects } = await rendered;
        for (const name of WORKLOADS) {
          const deployment = findObject(objects, "Deployment", name);
          const pod = deployment.spec.template.spec;
          expect(pod.automountServiceAccountToken, name).toBe(false);
          expect(findObject(objects, "ServiceAccount", pod.serviceAccountName).automountServiceAccountToken).toBe(
            false,
          );
          expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
          for (const container of pod.containers) {
            expect(container.securityContext, name).toEqual({
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] },
            });
            expect(container.livenessProbe.httpGet.path, name).toBe("/healthz");
            expect(container.readinessProbe.httpGet.path, name).toBe("/readyz");
            expect(Object.keys(container.resources.requests).sort(), name).toEqual(["cpu", "memory"]);
            expect(container.resources.limits.memory, name).toBeDefined();
          }
          for (const key of ["name", "component", "part-of", "managed-by"]) {
            expect(pod.containers && deployment.spec.template.metadata.labels, name).toHaveProperty(
              `app.kubernetes.io/${key}`,
            );
          }
        }
      });

      it("the worker outlives its shutdown timeout and the PDB keeps all but one", async () => {
        const { objects } = await rendered;
        const pod = findObject(objects, "Deployment", "queuescale-worker").spec.template.spec;
        const env = Object.fromEntries(
          (pod.containers[0].env as Array<{ name: string; value: string }>).map((entry) => [entry.name, entry.value]),
        );
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(env.SHUTDOWN_TIMEOUT_SECONDS));
        const pdb = findObject(objects, "PodDisruptionBudget", "queuescale-worker");
        expect(pdb.spec).toEqual({
          maxUnavailable: 1,
          selector: findObject(objects, "Deployment", "queuescale-worker").spec.selector,
        });
      });

      it("the producer outlives its shutdown timeout plus one publish timeout", async () => {
        const { objects } = await rendered;
        const pod = findObject(objects, "Deployment", "queuescale-producer").spec.template.spec;
        const env = Object.fromEntries(
          (pod.containers[0].env as Array<{ name: string; value: string }>).map((entry) => [entry.name, entry.value]),
        );
        // The settings the manifest leaves unset take the producer's own defaults; files are not read here.
        const timing = Object.fromEntries(Object.entries(env).filter(([name]) => !name.endsWith("_FILE")));
        const settings = readSettings(producerSettings, { env: { BROKER: "nats", ...timing } });
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
          settings.SHUTDOWN_TIMEOUT_SECONDS + settings.PUBLISH_TIMEOUT_SECONDS,
        );
      });

      it("Services name their metrics ports and the exporter's stays scrapable while not ready", async () => {
        const { objects } = await rendered;
        expect(findObject(objects, "Service", "queuescale-worker").spec.ports[0]).toMatchObject({
          name: "metrics",
          port: 9423,
        });
        const exporter = findObject(objects, "Service", "queuescale-exporter").spec;
        expect(exporter.ports[0]).toMatchObject({ name: "metrics", port: 9422 });
        expect(exporter.publishNotReadyAddresses).toBe(true);
        expect(findObject(objects, "Service", "queuescale-producer").spec.ports[0]).toMatchObject({
          name: "http",
          port: 8080,
        });
      });

      it("mounts in each workload exactly the Secret keys its settings read, never another's", async () => {
        const { objects } = await rendered;
        for (const name of WORKLOADS) {
          const pod = findObject(objects, "Deployment", name).spec.template.spec;
          const secretVolumes = (pod.volumes as SecretVolume[]).filter((volume) => volume.secret);
          expect(secretVolumes, name).toHaveLength(1);
          // Without items every key of the Secret would be a file in the container.
          const items = secretVolumes[0]!.secret!.items ?? [];
          const mounted = items.map((item) => item.path).sort();
          expect(
            items.every((item) => item.key === item.path),
            name,
          ).toBe(true);
          const read = Object.entries(workloadEnv(objects, name))
            .filter(([key]) => key.endsWith("_FILE"))
            .map(([, path]) => path.replace(/^\/etc\/queuescale\/broker\//, ""))
            .sort();
          expect(mounted, name).toEqual([...new Set(read)]);
          for (const key of FORBIDDEN_KEYS[name]!) expect(mounted, `${name} holds ${key}`).not.toContain(key);
        }
      });

      it("NetworkPolicies deny by default and allow each workload only what it needs", async () => {
        const { objects } = await rendered;
        const policies = objects.filter((object) => object.kind === "NetworkPolicy");
        for (const name of WORKLOADS) {
          const labels = findObject(objects, "Deployment", name).spec.template.metadata.labels as Record<
            string,
            string
          >;
          const selecting = policies.filter((policy) => selects(policy.spec.podSelector, labels));
          // Isolated both ways: some policy of each type selects the pod.
          for (const type of ["Ingress", "Egress"]) {
            expect(
              selecting.some((policy) => policy.spec.policyTypes.includes(type)),
              `${name} ${type}`,
            ).toBe(true);
          }
          const egress = selecting.flatMap((policy) => (policy.spec.egress ?? []) as PolicyRule[]);
          const egressPorts = new Set(egress.flatMap((rule) => (rule.ports ?? []).map((port) => port.port)));
          expect(egress.every((rule) => rule.ports !== undefined && rule.to !== undefined)).toBe(true);
          expect([...egressPorts].sort(), name).toEqual([...EGRESS_PORTS[name]!].sort());
          // Ingress: Prometheus to the metrics ports; the producer's API also from labelled clients.
          const ingress = selecting.flatMap((policy) => (policy.spec.ingress ?? []) as PolicyRule[]);
          expect(ingress.every((rule) => rule.ports !== undefined && rule.from !== undefined)).toBe(true);
          const peers = ingress.flatMap((rule) => rule.from!);
          for (const peer of peers) {
            expect(peer.ipBlock, name).toBeUndefined();
            expect(peer.podSelector?.matchLabels, name).toBeDefined();
          }
          const clients = peers.filter((peer) => peer.namespaceSelector === undefined);
          if (name === "queuescale-producer") {
            expect(clients).toEqual([{ podSelector: { matchLabels: { [PRODUCER_CLIENT_LABEL]: "true" } } }]);
          } else {
            expect(clients, name).toEqual([]);
          }
          // From other namespaces: Prometheus, and KEDA's operator to the exporter's scaler port only.
          for (const rule of ingress) {
            for (const peer of rule.from!.filter((peer) => peer.namespaceSelector !== undefined)) {
              const namespace = peer.namespaceSelector!.matchLabels?.["kubernetes.io/metadata.name"];
              if (namespace === "keda") {
                expect(name).toBe("queuescale-exporter");
                expect(peer.podSelector?.matchLabels).toEqual({ app: "keda-operator" });
                expect(rule.ports).toEqual([{ port: "grpc", protocol: "TCP" }]);
              } else {
                expect(peer.namespaceSelector!.matchLabels, name).toEqual({
                  "kubernetes.io/metadata.name": "monitoring",
                });
              }
            }
          }
        }
        // The label clients carry is a valid Kubernetes label key with a prefix of this project's own.
        expect(PRODUCER_CLIENT_LABEL).toMatch(/^[a-z0-9.-]+\.[a-z]+\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      });

      it("workloads are configured only with settings their programs know", async () => {
        const { objects } = await rendered;
        for (const [name, settings] of Object.entries(SETTINGS)) {
          const known = Object.keys(settings);
          for (const key of Object.keys(workloadEnv(objects, name))) {
            // WORK_* are read by the worker's example handler (overlays/dev), not by the worker.
            if (name === "queuescale-worker" && key.startsWith("WORK_")) continue;
            // A setting, or a setting read from the file named by <SETTING>_FILE.
            expect(known.includes(key) || known.includes(key.replace(/_FILE$/, "")), `${name} ${key}`).toBe(true);
          }
        }
      });
    });
  }

  it("dev generates the Secret the workloads mount, with every key they read", async () => {
    const { objects } = await kustomize("k8s/overlays/dev");
    const secret = findGenerated(objects, "Secret", "queuescale-broker");
    for (const name of WORKLOADS) {
      const pod = findObject(objects, "Deployment", name).spec.template.spec;
      const volume = (pod.volumes as Array<{ name: string; secret?: { secretName: string } }>).find(
        (entry) => entry.secret,
      );
      expect(volume?.secret?.secretName).toBe(secret.metadata.name);
      const configName = pod.containers[0].envFrom[0].configMapRef.name as string;
      const config = findObject(objects, "ConfigMap", configName).data as Record<string, string>;
      const env = (pod.containers[0].env as Array<{ name: string; value: string }>).map((entry) => [
        entry.name,
        entry.value,
      ]);
      for (const [key, value] of [...Object.entries(config), ...env]) {
        if (!key!.endsWith("_FILE")) continue;
        expect(value!.startsWith("/etc/queuescale/broker/"), key).toBe(true);
        expect(Object.keys(secret.data), key).toContain(value!.slice("/etc/queuescale/broker/".length));
      }
    }
    for (const broker of ["rabbitmq", "nats"])
      expect(findObject(objects, "StatefulSet", broker).spec.volumeClaimTemplates).toHaveLength(1);
  });

  it("dev: each program's settings parser accepts its rendered configuration, Secret files included", async () => {
    const { objects } = await kustomize("k8s/overlays/dev");
    const secret = findGenerated(objects, "Secret", "queuescale-broker");
    const mounted = join(scratch, "dev-secret");
    mkdirSync(mounted, { recursive: true });
    for (const [key, value] of Object.entries(secret.data as Record<string, string>)) {
      writeFileSync(join(mounted, key), Buffer.from(value.replace(/\s+/g, ""), "base64"));
    }
    const envOf = (name: string) =>
      Object.fromEntries(
        Object.entries(workloadEnv(objects, name)).map(([key, value]) => [
          key,
          value.replace("/etc/queuescale/broker", mounted),
        ]),
      );
    const worker = readSettings(workerSettings, { env: envOf("queuescale-worker"), argv: [] });
    expect(worker).toMatchObject({ BROKER: "rabbitmq", QUEUE: "jobs", SHUTDOWN_TIMEOUT_SECONDS: 25 });
    expect(worker.RABBITMQ_URL).toBeDefined();
    const producer = readSettings(producerSettings, { env: envOf("queuescale-producer"), argv: [] });
    expect(producer).toMatchObject({ BROKER: "rabbitmq", ADMIN_TOKEN: "queuescale-dev-token" });
    // The exporter also builds its sources from them (nothing connects yet).
    const { sources, settings } = buildSources(
      { env: envOf("queuescale-exporter"), argv: [] },
      createLogger("test", "silent"),
    );
    try {
      expect(new Set(sources.map((source) => source.broker))).toEqual(new Set(["rabbitmq", "nats"]));
      expect(settings.LISTEN_ADDRESS).toMatchObject({ host: "0.0.0.0", port: 9422 });
    } finally {
      await Promise.all(sources.map((source) => source.close()));
    }
  });

  it("nats: the producer publishes into the stream the workers consume (queue NAME is subject STREAM.NAME)", async () => {
    const { objects } = await kustomize("k8s/overlays/nats");
    const producer = workloadEnv(objects, "queuescale-producer");
    const worker = workloadEnv(objects, "queuescale-worker");
    expect(producer.STREAM).toBe(worker.STREAM);
    // The subject of the worker's consumer must match one of the stream's subject filters.
    const subject = `${worker.STREAM}.${worker.CONSUMER}`;
    const covered = worker.SUBJECTS!.split(",").some((filter) => {
      const pattern = filter
        .trim()
        .split(".")
        .map((token) => (token === ">" ? ".+" : token === "*" ? "[^.]+" : token.replace(/[$()*+?[\\\]^{|}]/g, "\\$&")))
        .join("\\.");
      return new RegExp(`^${pattern}$`).test(subject);
    });
    expect(covered, `${subject} within SUBJECTS ${worker.SUBJECTS}`).toBe(true);
  });

  it("rabbitmq and nats overlays leave credentials to a Secret made outside the repository", async () => {
    for (const overlay of ["rabbitmq", "nats"]) {
      const { objects } = await kustomize(`k8s/overlays/${overlay}`);
      expect(objects.filter((object) => object.kind === "Secret")).toEqual([]);
    }
  });

  for (const overlay of ["rabbitmq", "nats"]) {
    it(`${overlay} with its keda component: a ScaledObject on the same queue replaces the HPA, validated`, async () => {
      const dir = composedKustomization(`k8s/overlays/${overlay}`, [`k8s/components/keda/${overlay}`], "queuescale");
      try {
        const { objects } = await kustomize(dir);
        expect(objects.filter((object) => object.kind === "HorizontalPodAutoscaler")).toEqual([]);
        const scaled = findObject(objects, "ScaledObject", "queuescale-worker");
        const hpa = findObject(
          (await kustomize(`k8s/overlays/${overlay}`)).objects,
          "HorizontalPodAutoscaler",
          "queuescale-worker",
        );
        expect(scaled.spec.scaleTargetRef).toEqual(hpa.spec.scaleTargetRef);
        expect(scaled.spec.minReplicaCount).toBe(hpa.spec.minReplicas);
        expect(scaled.spec.maxReplicaCount).toBe(hpa.spec.maxReplicas);
        expect(scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior).toEqual(hpa.spec.behavior);
        const [trigger] = scaled.spec.triggers;
        expect(trigger).toMatchObject({ type: "prometheus", metricType: "AverageValue" });
        expect(trigger.metadata.threshold).toBe(hpa.spec.metrics[0].external.target.averageValue);
        // The query selects the queue the HPA would have: same labels, same values, in the namespace.
        const query = trigger.metadata.query as string;
        // Grouped by the queue identity of every broker (the absent labels of the others change nothing).
        expect(
          query.startsWith(`max by (${["namespace", ...depthLabels()].join(", ")}) (${DEPTH_METRICS.depth.name}{`),
        ).toBe(true);
        const matchers = Object.fromEntries(
          [...query.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]),
        );
        expect(matchers).toEqual({
          namespace: "queuescale",
          ...hpa.spec.metrics[0].external.metric.selector.matchLabels,
        });
        expect(matchers.broker).toBe(OVERLAY_BROKER[overlay]);
        await validate(`${overlay}-keda`, objects);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const overlay of ["rabbitmq", "nats"]) {
    it(`${overlay} with the keda-external component: an external-push ScaledObject on the HPA's queue, the exporter's grpc port, validated`, async () => {
      const dir = composedKustomization(`k8s/overlays/${overlay}`, ["k8s/components/keda-external"], "queuescale");
      try {
        const { objects } = await kustomize(dir);
        const hpa = findObject(
          (await kustomize(`k8s/overlays/${overlay}`)).objects,
          "HorizontalPodAutoscaler",
          "queuescale-worker",
        );
        expect(objects.filter((object) => object.kind === "HorizontalPodAutoscaler")).toEqual([]);
        const scaled = findObject(objects, "ScaledObject", "queuescale-worker");
        expect(scaled.spec.scaleTargetRef).toEqual(hpa.spec.scaleTargetRef);
        expect(scaled.spec.minReplicaCount).toBe(hpa.spec.minReplicas);
        expect(scaled.spec.maxReplicaCount).toBe(hpa.spec.maxReplicas);
        expect(scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior).toEqual(hpa.spec.behavior);
        const [trigger] = scaled.spec.triggers;
        expect(trigger).toMatchObject({ type: "external-push", metricType: "AverageValue" });
        // The queue the HPA selects, by the same labels, and the HPA's target as `value`.
        const selector = hpa.spec.metrics[0].external.metric.selector.matchLabels as Record<string, string>;
        expect(selector.broker).toBe(OVERLAY_BROKER[overlay]);
        const service = findObject(objects, "Service", "queuescale-exporter");
        const grpc = (service.spec.ports as Array<{ name: string; port: number; targetPort: string }>).find(
          (port) => port.name === "grpc",
        );
        expect(trigger.metadata).toEqual({
          ...selector,
          scalerAddress: `queuescale-exporter.queuescale.svc:${grpc!.port}`,
          value: hpa.spec.metrics[0].external.target.averageValue,
        });
        // What the exporter makes of it: the same queue and target.
        const queue = parseScalerMetadata(trigger.metadata, BROKER_ADAPTERS);
        const { broker, ...labels } = selector;
        expect(queue).toEqual({ broker, labels, value: Number(trigger.metadata.value), activationValue: 0 });
        // The exporter listens where the Service sends it, with a setting it accepts.
        const container = findObject(objects, "Deployment", "queuescale-exporter").spec.template.spec.containers[0];
        const port = (container.ports as Array<{ name: string; containerPort: number }>).find(
          (entry) => entry.name === grpc!.targetPort,
        );
        const env = workloadEnv(objects, "queuescale-exporter");
        // Only the scaler's settings: the broker URLs name Secret files that exist only in the pod.
        const settings = readSettings({ SCALER_LISTEN_ADDRESS: exporterSettings.SCALER_LISTEN_ADDRESS! }, { env });
        expect(settings.SCALER_LISTEN_ADDRESS).toEqual({ host: "0.0.0.0", port: port!.containerPort });
        await validate(`${overlay}-keda-external`, objects);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    it(`${overlay} with the drain-time component: required replicas first (target 1), depth kept second as the floor, T on the worker`, async () => {
      const plain = findObject(
        (await kustomize(`k8s/overlays/${overlay}`)).objects,
        "HorizontalPodAutoscaler",
        "queuescale-worker",
      );
      const dir = composedKustomization(`k8s/overlays/${overlay}`, ["k8s/components/drain-time"], "queuescale");
      try {
        const { objects } = await kustomize(dir);
        const hpa = findObject(objects, "HorizontalPodAutoscaler", "queuescale-worker");
        const [required, depth, ...rest] = hpa.spec.metrics;
        expect(rest).toEqual([]);
        expect(required).toEqual({
          type: "External",
          external: {
            metric: { name: DRAIN_TIME_METRIC, selector: plain.spec.metrics[0].external.metric.selector },
            target: { type: "AverageValue", averageValue: "1" },
          },
        });
        // The same queue as the overlay's depth metric, which stays with its selector and a higher floor.
        expect(depth.external.metric).toEqual(plain.spec.metrics[0].external.metric);
        expect(depth.external.target).toEqual({ type: "AverageValue", averageValue: "1000" });
        expect(hpa.spec.behavior).toEqual(plain.spec.behavior);
        // The adapter serves the metric under that name.
        expect(adapterConfig().externalRules.map((rule) => rule.name.as)).toContain(DRAIN_TIME_METRIC);
        // The worker reads T as a setting it knows, within its range.
        const env = workloadEnv(objects, "queuescale-worker");
        const settings = readSettings(
          { DRAIN_TARGET_SECONDS: workerSettings.DRAIN_TARGET_SECONDS! },
          { env: { DRAIN_TARGET_SECONDS: env.DRAIN_TARGET_SECONDS }, argv: [] },
        );
        expect(settings.DRAIN_TARGET_SECONDS).toBe(60);
        await validate(`${overlay}-drain-time`, objects);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const overlay of ["rabbitmq", "nats"]) {
    it(`${overlay} with keda, drain-time and drain-time/keda: the drain-time trigger first on the same queue, depth second as the floor`, async () => {
      const dir = composedKustomization(
        `k8s/overlays/${overlay}`,
        [
          `k8s/components/keda/${OVERLAY_BROKER[overlay]}`,
          "k8s/components/drain-time",
          "k8s/components/drain-time/keda",
        ],
        "queuescale",
      );
      try {
        const { objects } = await kustomize(dir);
        expect(objects.filter((object) => object.kind === "HorizontalPodAutoscaler")).toEqual([]);
        const [required, depth, ...rest] = findObject(objects, "ScaledObject", "queuescale-worker").spec.triggers;
        expect(rest).toEqual([]);
        expect(required).toMatchObject({ type: "prometheus", metricType: "AverageValue" });
        expect(required.metadata).toMatchObject({ threshold: "1", ignoreNullValues: "false" });
        expect(depth.metadata.threshold).toBe("1000");
        const matchersOf = (query: string) =>
          Object.fromEntries([...query.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
        const identity = ["namespace", ...depthLabels()].join(", ");
        expect(required.metadata.query).toBe(
          `max by (${identity}) (queuescale:queue_required_replicas{${depth.metadata.query.split("{")[1]}`,
        );
        expect(matchersOf(required.metadata.query)).toEqual(matchersOf(depth.metadata.query));
        expect(workloadEnv(objects, "queuescale-worker").DRAIN_TARGET_SECONDS).toBe("60");
        await validate(`${overlay}-keda-drain-time`, objects);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const overlay of ["rabbitmq", "nats"]) {
    it(`${overlay} with every component renders and validates (Prometheus Operator CRDs included)`, async () => {
      const dir = composedKustomization(`k8s/overlays/${overlay}`, COMPONENTS, "queuescale");
      try {
        const { objects } = await kustomize(dir);
        const kinds = new Set(objects.map((object) => object.kind));
        for (const kind of ["NetworkPolicy", "ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"]) {
          expect(kinds).toContain(kind);
        }
        const hpa = findObject(objects, "HorizontalPodAutoscaler", "queuescale-worker");
        // drain-time's required replicas, the depth, then hpa-cpu's CPU.
        expect(hpa.spec.metrics.map((metric: { type: string }) => metric.type)).toEqual([
          "External",
          "External",
          "Resource",
        ]);
        expect(hpa.spec.metrics[2].resource).toEqual({
          name: "cpu",
          target: { type: "Utilization", averageUtilization: 70 },
        });
        for (const object of objects) {
          if (object.kind !== "Namespace") expect(object.metadata.namespace, object.metadata.name).toBe("queuescale");
        }
        await validate(`${overlay}-components`, objects);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
