import { setTimeout as sleep } from "node:timers/promises";
import { ApiError, parseQuantity, type ApiClient } from "./api.js";
import type { Timeline } from "./timeline.js";

export const METRIC_NAME = "queuescale_queue_depth";

/** One look at what Kubernetes says about the scenario's worker. */
export interface Sample {
  readonly at: number;
  /** Sum of the external metric's items for the HPA's selector; undefined when there are none. */
  readonly metric: number | undefined;
  /** Why the metric could not be read (no items, or the API's error). */
  readonly metricProblem: string | undefined;
  readonly desiredReplicas: number | undefined;
  readonly hpaCurrentReplicas: number | undefined;
  /** The HPA's own reading: status.currentMetrics[0].external.current.averageValue. */
  readonly hpaAverageValue: number | undefined;
  readonly scalingActive: string | undefined;
  readonly deploymentReplicas: number | undefined;
  readonly readyReplicas: number | undefined;
  /** KEDA mode: the ScaledObject's conditions (`Ready True, Active True, Fallback False`). */
  readonly scaledObject: string | undefined;
}

/**
 * What the observer reads: the HPA by name and the external metric it scales on. With Prometheus
 * Adapter that is the project's HPA and `queuescale_queue_depth` by the queue's labels; with KEDA,
 * the HPA KEDA made and the metric name and selector KEDA gave it (`s0-prometheus`,
 * `scaledobject.keda.sh/name=…`), plus the ScaledObject itself.
 */
export interface ObserverTarget {
  readonly hpaName: string;
  readonly metricPath: string;
  readonly scaledObject?: string;
}

/** The adapter mode's target: the overlay's HPA and the depth metric by the queue's labels. */
export function adapterTarget(namespace: string, selector: Record<string, string>): ObserverTarget {
  return { hpaName: "queuescale-worker", metricPath: externalMetricPath(namespace, selector) };
}

interface ExternalMetricList {
  items: { metricName: string; metricLabels?: Record<string, string>; value: string }[];
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
}

interface Hpa {
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    currentMetrics?: { external?: { current?: { averageValue?: string } } }[];
    conditions?: Condition[];
  };
}

interface Deployment {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number };
}

/** The external metrics API path kubectl get --raw reads for this selector. */
export function externalMetricPath(
  namespace: string,
  selector: Record<string, string>,
  metricName: string = METRIC_NAME,
): string {
  const labelSelector = Object.entries(selector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  return `/apis/external.metrics.k8s.io/v1beta1/namespaces/${namespace}/${metricName}?labelSelector=${encodeURIComponent(labelSelector)}`;
}

/**
 * Samples the external metric, the HPA and the Deployment every second and writes each change to
 * the timeline, so the run can both wait for a state and look back at what happened in between.
 */
export class Observer {
  readonly samples: Sample[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly api: ApiClient,
    private readonly namespace: string,
    private readonly target: ObserverTarget,
    private readonly timeline: Timeline,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const sample = await this.sample();
        this.note(sample);
        this.samples.push(sample);
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  get latest(): Sample | undefined {
    return this.samples.at(-1);
  }

  /** Samples taken at or after `from` (and before `to`, when given). */
  between(from: number, to = Number.POSITIVE_INFINITY): Sample[] {
    return this.samples.filter((sample) => sample.at >= from && sample.at < to);
  }

  /** Resolves with the first sample (taken after `since`) that satisfies `predicate`. */
  async waitFor(
    what: string,
    predicate: (sample: Sample) => boolean,
    { timeoutMs, since = Date.now() }: { timeoutMs: number; since?: number },
  ): Promise<Sample> {
    const deadline = Date.now() + timeoutMs;
    let checked = 0;
    for (;;) {
      const fresh = this.samples.slice(checked);
      checked = this.samples.length;
      const match = fresh.find((sample) => sample.at >= since && predicate(sample));
      if (match) return match;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last: ${describe(this.latest)}`,
        );
      }
      await sleep(250);
    }
  }

  private async sample(): Promise<Sample> {
    const at = Date.now();
    let metric: number | undefined;
    let metricProblem: string | undefined;
    try {
      const list = await this.api.get<ExternalMetricList>(this.target.metricPath);
      if (list.items.length === 0) metricProblem = "no series";
      else metric = list.items.reduce((total, item) => total + parseQuantity(item.value), 0);
    } catch (error) {
      metricProblem = error instanceof ApiError ? `HTTP ${error.status}` : String(error);
    }
    const hpa = await this.api
      .get<Hpa>(`/apis/autoscaling/v2/namespaces/${this.namespace}/horizontalpodautoscalers/${this.target.hpaName}`)
      .catch(() => undefined);
    const deployment = await this.api
      .get<Deployment>(`/apis/apps/v1/namespaces/${this.namespace}/deployments/queuescale-worker`)
      .catch(() => undefined);
    const scaledObject = this.target.scaledObject
      ? await this.api
          .get<{ status?: { conditions?: Condition[] } }>(
            `/apis/keda.sh/v1alpha1/namespaces/${this.namespace}/scaledobjects/${this.target.scaledObject}`,
          )
          .catch(() => undefined)
      : undefined;
    const active = hpa?.status?.conditions?.find((condition) => condition.type === "ScalingActive");
    const average = hpa?.status?.currentMetrics?.[0]?.external?.current?.averageValue;
    return {
      at,
      metric,
      metricProblem,
      desiredReplicas: hpa?.status?.desiredReplicas,
      hpaCurrentReplicas: hpa?.status?.currentReplicas,
      hpaAverageValue: average === undefined ? undefined : parseQuantity(average),
      scalingActive: active ? `${active.status}${active.reason ? ` (${active.reason})` : ""}` : undefined,
      deploymentReplicas: deployment?.spec?.replicas,
      readyReplicas: deployment?.status?.readyReplicas,
      scaledObject: scaledObject?.status?.conditions
        ?.map((c) => `${c.type} ${c.status}${c.reason && c.status !== "True" ? ` (${c.reason})` : ""}`)
        .join(", "),
    };
  }

  private note(sample: Sample): void {
    const previous = this.latest;
    const metricText = (s: Sample | undefined) =>
      s?.metric !== undefined ? String(s.metric) : `absent (${s?.metricProblem})`;
    if (!previous || metricText(previous) !== metricText(sample)) {
      this.timeline.add("metric", `${METRIC_NAME} = ${metricText(sample)}`, sample.at);
    }
    if (
      !previous ||
      previous.desiredReplicas !== sample.desiredReplicas ||
      previous.scalingActive !== sample.scalingActive
    ) {
      this.timeline.add(
        "hpa",
        `desiredReplicas ${sample.desiredReplicas ?? "-"}, ScalingActive ${sample.scalingActive ?? "-"}`,
        sample.at,
      );
    }
    if (sample.scaledObject !== undefined && previous?.scaledObject !== sample.scaledObject) {
      this.timeline.add("keda", `ScaledObject ${sample.scaledObject}`, sample.at);
    }
    if (
      !previous ||
      previous.deploymentReplicas !== sample.deploymentReplicas ||
      previous.readyReplicas !== sample.readyReplicas
    ) {
      this.timeline.add(
        "deployment",
        `replicas ${sample.deploymentReplicas ?? "-"}, ready ${sample.readyReplicas ?? 0}`,
        sample.at,
      );
    }
  }
}

export function describe(sample: Sample | undefined): string {
  if (!sample) return "no sample yet";
  return [
    `metric ${sample.metric ?? `absent (${sample.metricProblem})`}`,
    `hpa desired ${sample.desiredReplicas ?? "-"}`,
    `ScalingActive ${sample.scalingActive ?? "-"}`,
    `deployment ${sample.deploymentReplicas ?? "-"} (ready ${sample.readyReplicas ?? 0})`,
  ].join(", ");
}
