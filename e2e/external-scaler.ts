import { join } from "node:path";
import type { BrokerFixture } from "./brokers/types.js";
import type { ApiClient } from "./lib/api.js";
import type { ControlPlane } from "./lib/cluster.js";
import { externalMetricPath, Observer } from "./lib/observer.js";
import { EXTERNAL_COOLDOWN_SECONDS, renderOverlay } from "./lib/overlay.js";
import type { Prometheus } from "./lib/prometheus.js";
import type { Timeline } from "./lib/timeline.js";
import { waitFor } from "./lib/wait.js";

/** The exporter's gRPC port for KEDA (k8s/components/keda-external). */
const SCALER_PORT = 9424;

export interface ExternalScalerContext {
  readonly name: string;
  readonly dir: string;
  readonly namespace: string;
  readonly fixture: BrokerFixture;
  readonly cluster: ControlPlane;
  readonly api: ApiClient;
  readonly prometheus: Prometheus;
  readonly timeline: Timeline;
  /** The backlog the Prometheus-trigger scenario published, and its target per replica. */
  readonly backlog: number;
  check(name: string, ok: boolean, detail: string): void;
}

export interface ExternalScalerFigures {
  /** ScaledObject applied (queue empty) → worker Deployment at 0. */
  idleToZeroSeconds?: number;
  /** publish → the worker Deployment at 1 (KEDA's activation from 0). */
  publishToActivationSeconds?: number;
  /** publish → the first worker pod Ready. */
  publishToFirstReadySeconds?: number;
  /** publish → the HPA's first step above 1 replica. */
  publishToFirstHpaStepSeconds?: number;
  /** publish → ceil(backlog / value) replicas. */
  publishToFullScaleSeconds?: number;
  /** purge → the worker Deployment back at 0. */
  purgeToZeroSeconds?: number;
}

/**
 * KEDA with the exporter as its external scaler (k8s/components/keda-external), after the
 * Prometheus-trigger scenario, on the same queue: the Prometheus ScaledObject is replaced, the
 * exporters restart with the scaler service on, and the worker may go to 0 (`minReplicaCount: 0`).
 * The empty queue takes the worker to 0; a backlog brings it back through KEDA's activation
 * (StreamIsActive pushes the first poll that sees work) and then the HPA, on GetMetrics; a purge
 * takes it to 0 again after the cooldown.
 */
export async function runExternalScaler(ctx: ExternalScalerContext): Promise<ExternalScalerFigures> {
  const { kubectl } = ctx.cluster;
  const { namespace, fixture, timeline } = ctx;
  const figures: ExternalScalerFigures = {};

  const replacedAt = timeline.add("step", "external scaler: delete the Prometheus-trigger ScaledObject");
  await kubectl.run(["delete", "scaledobject", "queuescale-worker", "-n", namespace, "--wait=true"]);
  await waitFor(
    async () => {
      const list = await kubectl.json<{ items: unknown[] }>(["get", "hpa", "-n", namespace]);
      return list.items.length === 0 ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 1_000, what: "KEDA to delete its HPA with the ScaledObject" },
  );

  const overlay = await renderOverlay(join(ctx.dir, "overlay-external"), fixture, kubectl, {
    engine: "keda",
    trigger: "external",
    prometheusUrl: ctx.prometheus.url,
  });
  const scaledObject = overlay.manifests.find((m) => m.kind === "ScaledObject");
  if (!scaledObject) throw new Error("k8s/components/keda-external renders no ScaledObject");
  const rest = overlay.manifests.filter((m) => m !== scaledObject);
  timeline.add("step", `external scaler: the exporters restart with the scaler service on (:${SCALER_PORT})`);
  await kubectl.apply(rest.map((m) => JSON.stringify(m)).join("\n---\n"));
  await kubectl.run(["rollout", "status", "deployment/queuescale-exporter", "-n", namespace, "--timeout=180s"]);
  // KEDA runs on the host, where Service names do not resolve and no kube-proxy routes cluster IPs:
  // the trigger names an exporter pod's address on the bridge instead of the Service's.
  const exporterIp = await readyPodIp(ctx.cluster, namespace, "queuescale-exporter");
  const trigger = (scaledObject as unknown as { spec: { triggers: { metadata: Record<string, string> }[] } }).spec
    .triggers[0]!;
  trigger.metadata.scalerAddress = `${exporterIp}:${SCALER_PORT}`;
  const value = Number(trigger.metadata.value);
  const expected = Math.ceil(ctx.backlog / value);
  const appliedAt = timeline.add(
    "step",
    `external scaler: apply the ScaledObject (external-push to ${trigger.metadata.scalerAddress}, ` +
      `metadata ${JSON.stringify(trigger.metadata)}, minReplicaCount 0, cooldownPeriod ${EXTERNAL_COOLDOWN_SECONDS} s)`,
  );
  await kubectl.apply(JSON.stringify(scaledObject));

  const hpaName = await waitFor(
    async () =>
      (
        await kubectl.json<{ status?: { hpaName?: string } }>([
          "get",
          "scaledobject",
          "queuescale-worker",
          "-n",
          namespace,
        ])
      ).status?.hpaName,
    { timeoutMs: 60_000, intervalMs: 1_000, what: "KEDA to make the external ScaledObject's HPA" },
  );
  const hpa = await kubectl.json<{
    spec: {
      metrics: { external?: { metric: { name: string; selector?: { matchLabels?: Record<string, string> } } } }[];
    };
  }>(["get", "hpa", hpaName, "-n", namespace]);
  const metric = hpa.spec.metrics[0]?.external?.metric;
  if (!metric) throw new Error(`HPA ${hpaName} has no External metric`);
  const observer = new Observer(
    ctx.api,
    namespace,
    {
      hpaName,
      metricPath: externalMetricPath(namespace, metric.selector?.matchLabels ?? {}, metric.name),
      scaledObject: "queuescale-worker",
    },
    timeline,
    1_000,
  );
  observer.start();
  try {
    // 1. No work: KEDA takes the worker to 0 once the cooldown has passed.
    const zero = await observer.waitFor("the idle worker at 0 replicas", (s) => s.deploymentReplicas === 0, {
      timeoutMs: (EXTERNAL_COOLDOWN_SECONDS + 120) * 1000,
      since: appliedAt,
    });
    figures.idleToZeroSeconds = seconds(zero.at - appliedAt);
    ctx.check(
      "external scaler: the idle worker goes to 0 (minReplicaCount 0)",
      true,
      `0 replicas ${figures.idleToZeroSeconds} s after the ScaledObject was applied (cooldownPeriod ${EXTERNAL_COOLDOWN_SECONDS} s); ${seconds(appliedAt - replacedAt)} s to swap the ScaledObject and restart the exporters`,
    );

    // 2. Work arrives: 0 → 1 by KEDA's activation, then the HPA on GetMetrics.
    const publishedAt = timeline.add("step", `external scaler: publishing ${ctx.backlog} messages`);
    await fixture.publish(ctx.backlog);
    timeline.add("step", `external scaler: published ${ctx.backlog} messages (confirmed by the broker)`);
    const active = await observer.waitFor(
      "KEDA to activate the worker (0 → 1)",
      (s) => (s.deploymentReplicas ?? 0) >= 1,
      {
        timeoutMs: 120_000,
        since: publishedAt,
      },
    );
    figures.publishToActivationSeconds = seconds(active.at - publishedAt);
    const ready = await observer.waitFor("the first worker pod Ready", (s) => (s.readyReplicas ?? 0) >= 1, {
      timeoutMs: 120_000,
      since: publishedAt,
    });
    figures.publishToFirstReadySeconds = seconds(ready.at - publishedAt);
    const full = await observer.waitFor(
      `${expected} replicas through GetMetrics`,
      (s) => s.metric === ctx.backlog && s.deploymentReplicas === expected && s.desiredReplicas === expected,
      { timeoutMs: 180_000, since: publishedAt },
    );
    figures.publishToFullScaleSeconds = seconds(full.at - publishedAt);
    const firstStep = observer.between(publishedAt, full.at + 1).find((s) => (s.deploymentReplicas ?? 0) > 1);
    if (firstStep) figures.publishToFirstHpaStepSeconds = seconds(firstStep.at - publishedAt);
    ctx.check(
      "external scaler: 0 → 1 on the first messages, then the HPA to ceil(backlog / value)",
      active.deploymentReplicas === 1 && full.deploymentReplicas === expected,
      `0→1 after ${figures.publishToActivationSeconds} s (pod Ready ${figures.publishToFirstReadySeconds} s), ` +
        `first HPA step after ${figures.publishToFirstHpaStepSeconds ?? "-"} s, ${expected} replicas after ` +
        `${figures.publishToFullScaleSeconds} s; the external metric ${metric.name} reads ${full.metric}`,
    );

    // 3. The queue empties: back to 0 once the cooldown has passed since the last active poll.
    const purgedAt = timeline.add("step", "external scaler: purge the queue");
    await fixture.purge();
    const inactive = await observer.waitFor("the metric to read 0", (s) => s.metric === 0, {
      timeoutMs: 60_000,
      since: purgedAt,
    });
    const back = await observer.waitFor("the worker back at 0", (s) => s.deploymentReplicas === 0, {
      timeoutMs: (EXTERNAL_COOLDOWN_SECONDS + 120) * 1000,
      since: purgedAt,
    });
    figures.purgeToZeroSeconds = seconds(back.at - purgedAt);
    // KEDA counts the cooldown from the last check that found work, which may precede the purge by
    // up to its pollingInterval: the hold after the metric read 0 is printed, not bounded below.
    ctx.check(
      "external scaler: back to 0 after the cooldown",
      back.deploymentReplicas === 0 && back.at > inactive.at,
      `${expected}→0 ${figures.purgeToZeroSeconds} s after the purge, ${seconds(back.at - inactive.at)} s after the ` +
        `metric read 0 (cooldownPeriod ${EXTERNAL_COOLDOWN_SECONDS} s)`,
    );
    timeline.add("step", `external scaler: scale to zero timeline ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await observer.stop();
  }
}

/** The IP of a Ready pod of the Deployment `name` (pods carry app.kubernetes.io/name = the Deployment's name). */
async function readyPodIp(cluster: ControlPlane, namespace: string, name: string): Promise<string> {
  return waitFor(
    async () => {
      const list = await cluster.kubectl.json<{
        items: {
          metadata: { deletionTimestamp?: string };
          status?: { podIP?: string; conditions?: { type: string; status: string }[] };
        }[];
      }>(["get", "pods", "-n", namespace, "-l", `app.kubernetes.io/name=${name}`]);
      const pod = list.items.find(
        (item) =>
          !item.metadata.deletionTimestamp &&
          item.status?.podIP &&
          item.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      return pod?.status?.podIP;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, what: `a Ready ${name} pod` },
  );
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
