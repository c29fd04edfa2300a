import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { drainTimeWindows } from "../monitoring/src/drain-time-windows.js";
import { parseQuantity } from "./lib/api.js";
import { scaleUpLimit, type HpaSpec } from "./lib/hpa-policy.js";
import { publishThroughProducer } from "./lib/loop.js";
import { findManifest, renderOverlay } from "./lib/overlay.js";
import { RULES } from "./lib/prometheus.js";
import { Timeline } from "./lib/timeline.js";
import { waitFor } from "./lib/wait.js";
import { podAddress, type BrokerScenario, type ScenarioEnvironment } from "./scenario.js";

/** The component under test, as a user adds it to an overlay. */
export const DRAIN_TIME_COMPONENT = "k8s/components/drain-time";
/** The External metric the component gives the HPA first. */
const REQUIRED_METRIC = "queuescale_queue_required_replicas";

/**
 * A slow handler: 2 s per message, 2 at a time, so one worker finishes 1 message/s and the HPA's
 * arithmetic is visible in whole replicas. With the component's T = 60 s, a backlog of 300 needs
 * (300 / 60 + arrivals) * 2 / 2 ≈ 5 workers; the depth floor (1000 a replica) asks for 1.
 */
const WORK_MS = 2000;
const CONCURRENCY = 2;
const BACKLOG = 300;

/** What the scenario read at the moment it compared the HPA with the formula. */
export interface DrainTimeFigures {
  handlerSeconds?: number;
  backlog?: number;
  arrivalsPerSecond?: number;
  concurrency?: number;
  drainTargetSeconds?: number;
  formulaReplicas?: number;
  /** The required replicas as the HPA read them (its per-replica average × the replicas it had). */
  hpaRequiredReplicas?: number;
  desiredReplicas?: number;
  publishToDrainTimeScaleUpSeconds?: number;
  messageWaitP95Seconds?: number;
}

interface HpaStatus {
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    currentMetrics?: { type: string; external?: { metric?: { name?: string }; current?: { averageValue?: string } } }[];
  };
}

/**
 * Drain-time scaling on the real control plane: the broker scenario's overlay with
 * k8s/components/drain-time applied, its workers switched to the HPA's queue with a slow handler,
 * a backlog published through the producer pod. Prometheus evaluates the shipped recording rules,
 * the adapter serves queuescale_queue_required_replicas, and the HPA controller must then want as
 * many replicas as (backlog / T + arrivals) * s / c says, from s, backlog and arrivals read off the
 * workers' and exporters' raw series, within one replica.
 */
export class DrainTimeScenario {
  readonly timeline: Timeline;
  readonly figures: DrainTimeFigures = {};

  constructor(
    private readonly scenario: BrokerScenario,
    private readonly env: ScenarioEnvironment,
  ) {
    this.timeline = new Timeline(this.name);
  }

  get name(): string {
    return `${this.scenario.name} drain-time`;
  }

  private check(name: string, ok: boolean, detail: string): void {
    this.env.checks.record(this.name, name, ok, detail);
    this.timeline.add("check", `${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
    if (!ok) throw new Error(`${this.name}: ${name}: ${detail}`);
  }

  async run(): Promise<void> {
    const { overlay, fixture } = this.scenario.prepared();
    const { kubectl } = this.env.cluster;
    const namespace = overlay.namespace;
    const rendered = await renderOverlay(join(this.env.dir, this.scenario.name, "drain-time"), fixture, kubectl, {
      components: [DRAIN_TIME_COMPONENT],
    });
    const hpaManifest = findManifest(rendered, "HorizontalPodAutoscaler", "queuescale-worker");
    const hpaSpec = (
      hpaManifest as unknown as {
        spec: {
          minReplicas?: number;
          maxReplicas: number;
          metrics: { external: { metric: { name: string }; target: { averageValue: string } } }[];
        };
      }
    ).spec;
    const floor = Number(hpaSpec.metrics[1]?.external.target.averageValue);

    // The component's changes, without the HPA until the backlog is in: the worker ConfigMap with
    // DRAIN_TARGET_SECONDS, then the workers on the HPA's queue with the slow handler.
    this.timeline.add("step", `apply ${DRAIN_TIME_COMPONENT} to the ${this.scenario.name} overlay`);
    await kubectl.run(["delete", "hpa", "queuescale-worker", "-n", namespace, "--ignore-not-found"]);
    const withoutHpa = rendered.manifests.filter((manifest) => manifest.kind !== "HorizontalPodAutoscaler");
    await kubectl.apply(withoutHpa.map((manifest) => JSON.stringify(manifest)).join("\n---\n"));
    const env = { ...fixture.drainingWorker, WORK_MS: String(WORK_MS), CONCURRENCY: String(CONCURRENCY) };
    const patch = {
      spec: {
        replicas: 1,
        template: {
          spec: {
            containers: [{ name: "worker", env: Object.entries(env).map(([name, value]) => ({ name, value })) }],
          },
        },
      },
    };
    await kubectl.run(["patch", "deployment", "queuescale-worker", "-n", namespace, "-p", JSON.stringify(patch)]);
    await kubectl.run(["rollout", "status", "deployment/queuescale-worker", "-n", namespace, "--timeout=180s"]);

    // Every worker Prometheus sees on this queue is one of the new ones (c = 2, with T) before
    // the backlog goes in: after the closed loop, the previous workers (c = 8, no T) may still be
    // finishing, and their series would be averaged in.
    const matchers = Object.entries({ namespace, ...fixture.selector })
      .map(([label, value]) => `${label}=${JSON.stringify(value)}`)
      .join(",");
    await waitFor(
      async () => {
        const workers = await this.env.prometheus.query(`queuescale_worker_concurrency{${matchers}}`);
        const targets = await this.env.prometheus.query(`queuescale_worker_drain_target_seconds{${matchers}}`);
        return workers.length > 0 &&
          workers.every((worker) => worker.value === CONCURRENCY) &&
          targets.length === workers.length
          ? true
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2_000, what: `Prometheus to see only the slow workers on ${matchers}` },
    );

    const producer = await podAddress(this.env.cluster, namespace, "queuescale-producer", 8080);
    const publishedAt = this.timeline.add("step", `publish ${BACKLOG} messages through the producer pod`);
    const { accepted } = await publishThroughProducer(
      producer,
      fixture.producerQueue,
      BACKLOG,
      `drain-${this.scenario.name}`,
    );
    this.timeline.add("step", `${accepted} accepted; create the drain-time HPA`);
    await kubectl.apply(JSON.stringify(hpaManifest));

    // The HPA has the drain-time metric once the worker finished messages (s known), Prometheus
    // recorded the figure and the adapter listed it; the floor alone asks for one replica.
    const hpa = await this.withRuleFigures(matchers, () =>
      waitFor(
        async () => {
          const read = await kubectl.json<HpaStatus>(["get", "hpa", "queuescale-worker", "-n", namespace]);
          const required = read.status?.currentMetrics?.find(
            (metric) => metric.external?.metric?.name === REQUIRED_METRIC,
          );
          return required?.external?.current?.averageValue !== undefined && (read.status?.desiredReplicas ?? 0) > 1
            ? read
            : undefined;
        },
        { timeoutMs: 300_000, intervalMs: 1_000, what: `the HPA to scale up on ${REQUIRED_METRIC}` },
      ),
    );

    this.figures.publishToDrainTimeScaleUpSeconds = Math.round((Date.now() - publishedAt) / 100) / 10;
    const status = hpa.status!;
    const desired = status.desiredReplicas!;
    const replicasAtSync = status.currentReplicas ?? 1;
    // An AverageValue target reports the metric per current replica: the series' value is that × replicas.
    const hpaRequired =
      parseQuantity(
        status.currentMetrics!.find((metric) => metric.external?.metric?.name === REQUIRED_METRIC)!.external!.current!
          .averageValue!,
      ) * replicasAtSync;

    // The formula, from the raw series (not the recording rules): the depth's max over reporters,
    // the workers' handler time and completions, the backlog's change, over the windows of the
    // rules Prometheus evaluates (the backlog's change one point per evaluation, as the rule's
    // deriv of the recorded depth sees it: this Prometheus evaluates as often as it scrapes).
    const windows = drainTimeWindows(await readFile(RULES, "utf8"));
    const handlerRange = `[${windows.handlerSeconds}s]`;
    const arrivalsRange = `[${windows.arrivals}s]`;
    const evaluation = `${this.env.prometheus.scrapeIntervalSeconds}s`;
    const one = async (promql: string) => {
      const [first] = await this.env.prometheus.query(promql);
      if (!first) throw new Error(`${this.name}: no data for ${promql}`);
      return first.value;
    };
    const backlog = await one(`max(queuescale_queue_depth{${matchers}})`);
    const handlerSeconds = await one(
      `sum(rate(queuescale_worker_processing_seconds_sum{${matchers}}${handlerRange})) / sum(rate(queuescale_worker_processing_seconds_count{${matchers}}${handlerRange}))`,
    );
    const completions = await one(`sum(rate(queuescale_worker_messages_total{${matchers}}${arrivalsRange}))`);
    const change = await one(`deriv(max(queuescale_queue_depth{${matchers}})[${windows.arrivals}s:${evaluation}])`);
    const concurrency = await one(`avg(queuescale_worker_concurrency{${matchers}})`);
    const target = await one(`min(queuescale_worker_drain_target_seconds{${matchers}})`);
    const arrivals = Math.max(0, completions + change);
    const formula = ((backlog / target + arrivals) * handlerSeconds) / concurrency;
    // What the HPA controller makes of its own reading: the larger of the two metrics' proposals,
    // within min/max and the scale-up policies from the replicas it had (one step from there).
    const scaleUp = (hpaSpec as unknown as HpaSpec).behavior?.scaleUp ?? {};
    const proposal = Math.max(hpaSpec.minReplicas ?? 1, Math.ceil(hpaRequired), Math.ceil(backlog / floor));
    const expected = Math.min(hpaSpec.maxReplicas, scaleUpLimit(scaleUp, replicasAtSync, [], Date.now()), proposal);
    Object.assign(this.figures, {
      handlerSeconds: round(handlerSeconds, 3),
      backlog,
      arrivalsPerSecond: round(arrivals, 2),
      concurrency,
      drainTargetSeconds: target,
      formulaReplicas: round(formula, 2),
      hpaRequiredReplicas: round(hpaRequired, 2),
      desiredReplicas: desired,
    });
    this.check(
      "the HPA scales on the required replicas first, the depth second",
      hpaSpec.metrics.map((metric) => metric.external.metric.name).join() ===
        `${REQUIRED_METRIC},queuescale_queue_depth`,
      hpaSpec.metrics.map((metric) => metric.external.metric.name).join(", "),
    );
    this.check(
      "the required replicas the HPA read match (backlog / T + arrivals) × s / c from the raw series within 1",
      Math.abs(hpaRequired - formula) <= 1,
      `s ${handlerSeconds.toFixed(3)} s, backlog ${backlog}, arrivals ${arrivals.toFixed(2)}/s, c ${concurrency}, ` +
        `T ${target} s: (${backlog} / ${target} + ${arrivals.toFixed(2)}) × ${handlerSeconds.toFixed(3)} / ` +
        `${concurrency} = ${formula.toFixed(2)}; the HPA read ${hpaRequired.toFixed(2)} ` +
        `(${replicasAtSync} replica(s) at that sync)`,
    );
    this.check(
      "desired replicas are the ceiling of that reading, within the floor, min/max and the scale-up policy",
      desired === expected,
      `ceil(${hpaRequired.toFixed(2)}) = ${Math.ceil(hpaRequired)}, floor ceil(${backlog} / ${floor}) = ` +
        `${Math.ceil(backlog / floor)}, one scale-up step from ${replicasAtSync}: at most ` +
        `${scaleUpLimit(scaleUp, replicasAtSync, [], Date.now())}, max ${hpaSpec.maxReplicas} → ${expected}; the HPA wants ${desired}`,
    );

    // What the target is about: the wait of the messages handled so far.
    await sleep(this.env.prometheus.scrapeIntervalSeconds * 1000);
    const [p95] = await this.env.prometheus.query(
      `histogram_quantile(0.95, sum by (le) (rate(queuescale_worker_message_wait_seconds_bucket{${matchers}}[5m])))`,
    );
    if (p95 && Number.isFinite(p95.value)) this.figures.messageWaitP95Seconds = round(p95.value, 1);
    this.timeline.add("step", "purge the queue");
    await fixture.purge();
  }
  /**
   * Runs `wait`; when it fails, the error carries what the recording rules said for the queue at
   * that moment, so a run that never scales up shows which term kept it down.
   */
  private async withRuleFigures<T>(matchers: string, wait: () => Promise<T>): Promise<T> {
    try {
      return await wait();
    } catch (error) {
      const records = [
        "queuescale:queue_depth:max",
        "queuescale:queue_handler_seconds:mean1m",
        "queuescale:queue_handler_seconds:last1h",
        "queuescale:queue_completions:rate1m",
        "queuescale:queue_arrivals:rate1m",
        "queuescale:queue_worker_concurrency:avg",
        "queuescale:queue_drain_target_seconds:min",
        "queuescale:queue_required_replicas",
      ];
      const figures = await Promise.all(
        records.map(async (record) => {
          const series = await this.env.prometheus.query(`${record}{${matchers}}`).catch(() => []);
          return `${record} = ${series.map((one) => one.value).join(", ") || "absent"}`;
        }),
      );
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}; the rules then said: ${figures.join("; ")}`, { cause: error });
    }
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
