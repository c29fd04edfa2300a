import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import type { BrokerFixture, BrokerModule } from "./brokers/types.js";
import { runExternalScaler, type ExternalScalerFigures } from "./external-scaler.js";
import type { ApiClient } from "./lib/api.js";
import { HPA_SYNC_PERIOD_SECONDS, type ControlPlane } from "./lib/cluster.js";
import { scaleDownLimit, scaleUpLimit, type HpaSpec, type ReplicaChange } from "./lib/hpa-policy.js";
import {
  adapterTarget,
  describe,
  externalMetricPath,
  METRIC_NAME,
  Observer,
  type ObserverTarget,
  type Sample,
} from "./lib/observer.js";
import { publishThroughProducer, readProcessed, replicaSeconds, simulateBurst, textChart } from "./lib/loop.js";
import type { RealNode } from "./lib/node.js";
import { findManifest, renderOverlay, type Engine, type RenderedOverlay } from "./lib/overlay.js";
import type { ProcessGroup } from "./lib/processes.js";
import type { Prometheus } from "./lib/prometheus.js";
import { Timeline, type Checks } from "./lib/timeline.js";
import { waitFor } from "./lib/wait.js";

/** The backlog the scenario publishes, in multiples of the HPA's per-replica target. */
const BACKLOG_IN_TARGETS = 7.5;
/**
 * Exporter pods per scenario (the test overlay's replicas). Both publish the same series; the
 * adapter rule's max over reporters must still give the queue's depth, not twice it.
 */
const EXPORTER_REPLICAS = 2;
/** The closed loop's burst, published through the producer pod. */
const LOOP_BURST = 3000;
/** Messages one worker processes alone before the burst, to measure its throughput. */
const LOOP_CALIBRATION = 400;
/** How long the closed loop cuts the exporters' broker connection. */
const LOOP_CUT_SECONDS = 20;
/** The observer's sampling interval, in seconds. */
const SAMPLE_SECONDS = 1;

export interface ScenarioEnvironment {
  readonly dir: string;
  readonly processes: ProcessGroup;
  readonly cluster: ControlPlane;
  readonly api: ApiClient;
  readonly prometheus: Prometheus;
  readonly node: RealNode;
  readonly checks: Checks;
  readonly engine: Engine;
}

/** Figures the run reports per broker. */
export interface ScenarioFigures {
  loopPublishToFirstScaleUpSeconds?: number | undefined;
  loopDrainSeconds?: number;
  loopPeakReplicas?: number;
  loopReplicaSeconds?: number;
  loopThroughputPerPod?: number;
  loopPodStartupSeconds?: number | undefined;
  faultsDrainSeconds?: number;
  faultsReplicaSeconds?: number;
  applyToAllReadySeconds?: number;
  publishToMetricSeconds?: number;
  publishToFirstScaleUpSeconds?: number;
  publishToFullScaleSeconds?: number;
  cutToMetricGoneSeconds?: number;
  purgeToFirstScaleDownSeconds?: number;
}

/**
 * One broker's run: its overlay applied to the cluster, its exporter reading the real broker
 * through a TCP proxy the scenario can cut, and the HPA watched while the queue fills, the broker
 * becomes unreadable, and the queue drains.
 */
export class BrokerScenario {
  readonly timeline: Timeline;
  readonly figures: ScenarioFigures = {};
  private fixture: BrokerFixture | undefined;
  private proxy: TcpProxy | undefined;
  private overlay: RenderedOverlay | undefined;
  private observer: Observer | undefined;
  private clientRelay: TcpProxy | undefined;

  constructor(
    private readonly module: BrokerModule,
    private readonly env: ScenarioEnvironment,
  ) {
    this.timeline = new Timeline(module.broker);
  }

  get name(): string {
    return this.module.broker;
  }

  private check(name: string, ok: boolean, detail: string): void {
    this.env.checks.record(this.name, name, ok, detail);
    this.timeline.add("check", `${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
    if (!ok) throw new ScenarioFailed(`${this.name}: ${name}: ${detail}`);
  }

  /**
   * Creates the queue, starts the relays the pods reach the broker through, applies the overlay
   * with a Secret pointing at them, and waits until every pod is Ready through its own probes.
   */
  async prepare(): Promise<void> {
    const { node, cluster } = this.env;
    const dir = join(this.env.dir, this.name);
    await mkdir(dir, { recursive: true });
    this.fixture = await this.module.create();
    this.timeline.add("step", `created ${this.fixture.description}`);
    this.overlay = await renderOverlay(join(dir, "overlay"), this.fixture, cluster.kubectl, {
      engine: this.env.engine,
      prometheusUrl: this.env.prometheus.url,
    });
    // The brokers listen on loopback, which is the host's own: the pods reach them through relays
    // on the bridge's gateway address. The exporters' relay is theirs alone, so it can be cut.
    this.proxy = new TcpProxy(this.fixture.exporterUpstreamPort, "127.0.0.1", node.network.gateway);
    await this.proxy.start();
    this.clientRelay = new TcpProxy(this.fixture.clientUpstreamPort, "127.0.0.1", node.network.gateway);
    await this.clientRelay.start();
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "queuescale-broker", namespace: this.overlay.namespace },
      stringData: this.fixture.secret({ exporter: this.proxy.address, clients: this.clientRelay.address }),
    };
    const appliedAt = this.timeline.add(
      "step",
      `apply the ${this.name} overlay in namespace ${this.overlay.namespace}`,
    );
    await cluster.kubectl.apply(`${this.overlay.yaml}\n---\n${JSON.stringify(secret)}\n`);
    const expected = deploymentReplicas(this.overlay);
    const pods = await waitFor(
      async () => {
        const ready = await readyPods(cluster, this.overlay!.namespace);
        return Object.entries(expected).every(([name, count]) => (ready.get(name) ?? 0) >= count) ? ready : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1_000, what: `every pod of the ${this.name} overlay Ready` },
    ).catch(async (error: unknown) => {
      const described = await cluster.kubectl
        .run(["get", "pods", "-n", this.overlay!.namespace, "-o", "wide"])
        .catch(() => "");
      throw new Error(`${String(error)}\n${described}`);
    });
    this.figures.applyToAllReadySeconds = seconds(Date.now() - appliedAt);
    this.check(
      "every pod Ready through its own probes and securityContext",
      true,
      [...pods].map(([name, count]) => `${name} ${count}`).join(", "),
    );
    this.timeline.add(
      "step",
      `${EXPORTER_REPLICAS} exporter pods reading ${this.name} through relay ${this.proxy.address}, workers and producer through ${this.clientRelay.address}`,
    );
  }

  /** Resolves once Prometheus holds the depth series of every exporter of this scenario. */
  async waitForSeries(): Promise<void> {
    const { overlay, fixture } = this.ready();
    const query = `count(${METRIC_NAME}{${selectorMatchers(overlay.namespace, fixture.selector)}})`;
    await waitFor(
      async () => ((await this.env.prometheus.query(query))[0]?.value === EXPORTER_REPLICAS ? true : undefined),
      { timeoutMs: 60_000, what: `Prometheus to scrape ${query} == ${EXPORTER_REPLICAS}` },
    );
  }

  async run(): Promise<void> {
    const { overlay, fixture, proxy } = this.ready();
    const { kubectl } = this.env.cluster;
    const namespace = overlay.namespace;
    const { spec: hpa, target: observed } = await this.scalingTarget();
    const target = Number(hpa.metrics[0]?.external?.target?.averageValue);
    const minReplicas = hpa.minReplicas ?? 1;
    const scaleUp = hpa.behavior?.scaleUp ?? {};
    const scaleDown = hpa.behavior?.scaleDown ?? {};
    const window = scaleDown.stabilizationWindowSeconds ?? 300;
    const backlog = Math.round(target * BACKLOG_IN_TARGETS);
    this.backlog = backlog;
    const expected = Math.min(hpa.maxReplicas, Math.max(minReplicas, Math.ceil(backlog / target)));

    const observer = new Observer(this.env.api, namespace, observed, this.timeline, SAMPLE_SECONDS * 1000);
    this.observer = observer;
    observer.start();

    // 1. Idle: the queue exists and is empty, so the metric is 0, not absent.
    const idle = await observer.waitFor(
      "the empty queue's metric and one ready worker",
      (s) => s.metric === 0 && s.scalingActive?.startsWith("True") === true && s.readyReplicas === minReplicas,
      { timeoutMs: 120_000 },
    );
    this.check("empty queue reads 0", true, describe(idle));

    // 2. Backlog: publish, then follow the number through the adapter to the HPA and the Deployment.
    const publishedAt = this.timeline.add("step", `publishing ${backlog} messages`);
    await fixture.publish(backlog);
    this.timeline.add("step", `published ${backlog} messages (confirmed by the broker)`);
    const seen = await observer.waitFor(`${METRIC_NAME} = ${backlog}`, (s) => s.metric === backlog, {
      timeoutMs: 90_000,
      since: publishedAt,
    });
    this.figures.publishToMetricSeconds = seconds(seen.at - publishedAt);
    const raw = JSON.parse(await kubectl.run(["get", "--raw", observed.metricPath])) as {
      items: { value: string; metricLabels?: Record<string, string> }[];
    };
    this.check(
      "kubectl get --raw external.metrics.k8s.io returns the backlog",
      raw.items.length === 1 && Number(raw.items[0]?.value) === backlog,
      `items ${JSON.stringify(raw.items.map((item) => ({ value: item.value, labels: item.metricLabels })))}`,
    );
    const reporters = await this.env.prometheus.query(
      `count(${METRIC_NAME}{${selectorMatchers(namespace, fixture.selector)}})`,
    );
    this.check(
      "two reporters, one number",
      reporters[0]?.value === EXPORTER_REPLICAS,
      `${reporters[0]?.value ?? 0} series in Prometheus, the external metric reads ${backlog} (max, not sum)`,
    );

    const full = await observer.waitFor(
      `HPA and Deployment at ${expected} ready replicas`,
      (s) => s.desiredReplicas === expected && s.deploymentReplicas === expected && s.readyReplicas === expected,
      { timeoutMs: 180_000, since: publishedAt },
    );
    const upSamples = observer.between(publishedAt, full.at + 1);
    const firstUp = upSamples.find((s) => (s.deploymentReplicas ?? 0) > minReplicas);
    if (firstUp) this.figures.publishToFirstScaleUpSeconds = seconds(firstUp.at - publishedAt);
    this.figures.publishToFullScaleSeconds = seconds(full.at - publishedAt);
    const upChanges = replicaChanges(upSamples);
    // The sampler sees a change up to a sample late, so a step is checked as if it came that much
    // later: an earlier step then drops out of a policy period no sooner than for the HPA itself.
    const lateness = SAMPLE_SECONDS * 1000 + 1000;
    const overLimit = upChanges.filter(
      (change, index) =>
        change.to > scaleUpLimit(scaleUp, change.from, upChanges.slice(0, index), change.at + lateness),
    );
    this.check(
      `scales up to ceil(${backlog}/${target}) = ${expected} as the scale-up policies allow`,
      overLimit.length === 0 && upChanges.at(-1)?.to === expected,
      `steps ${upChanges.map((c) => `${c.from}→${c.to}`).join(", ")}; from ${minReplicas} the policies allow ${scaleUpLimit(scaleUp, minReplicas, [], publishedAt)} at once`,
    );
    // The HPA reports the metric per current replica, as of its last sync: one more sync after
    // the Deployment reached its size, the reading times the replicas is the backlog again.
    const settled = await observer.waitFor(
      `the HPA's reading at ${expected} replicas`,
      (s) => s.hpaCurrentReplicas === expected && s.hpaAverageValue !== undefined,
      { timeoutMs: 60_000, since: full.at },
    );
    this.check(
      "the HPA's own reading is the backlog",
      Math.abs((settled.hpaAverageValue ?? 0) * expected - backlog) < 0.01 * backlog,
      `status.currentMetrics averageValue ${settled.hpaAverageValue} × ${expected} replicas`,
    );
    const getHpa = await kubectl.run(["get", "hpa", "-n", namespace]);
    this.timeline.add("step", `kubectl get hpa:\n${indent(getHpa)}`);
    this.check(
      "kubectl get hpa shows value and target",
      getHpa.includes(`/${target} (avg)`) && new RegExp(`\\s${expected}\\s`).test(getHpa),
      getHpa.split("\n")[1]?.replace(/\s+/g, " ") ?? "",
    );

    // 3. Outage: the exporters lose the broker. The series must vanish (never a false 0) and the
    // HPA must hold what it has, for longer than the scale-down window would take to act on a 0.
    const cutAt = this.timeline.add("step", "cut the exporters' broker connection (TCP proxy)");
    await proxy.cut();
    const gone = await observer.waitFor("the metric to disappear", (s) => s.metric === undefined, {
      timeoutMs: 60_000,
      since: cutAt,
    });
    this.figures.cutToMetricGoneSeconds = seconds(gone.at - cutAt);
    this.check(
      "an unreadable broker removes the metric",
      true,
      `${gone.metricProblem} after ${seconds(gone.at - cutAt)} s`,
    );
    const inactive = await observer.waitFor(
      "the HPA to report ScalingActive False",
      (s) => s.scalingActive?.startsWith("False") === true,
      {
        timeoutMs: 60_000,
        since: cutAt,
      },
    );
    this.check("the HPA notices", true, `ScalingActive ${inactive.scalingActive}`);
    await sleep((window + 2 * HPA_SYNC_PERIOD_SECONDS) * 1000);
    const restoreAt = this.timeline.add("step", "restore the broker connection");
    await proxy.restore();
    const back = await observer.waitFor(
      `${METRIC_NAME} = ${backlog} again and ScalingActive True`,
      (s) => s.metric === backlog && s.scalingActive?.startsWith("True") === true,
      { timeoutMs: 90_000, since: restoreAt },
    );
    const outage = observer.between(cutAt, back.at + 1);
    const lowest = Math.min(
      ...outage.map((s) => Math.min(s.desiredReplicas ?? expected, s.deploymentReplicas ?? expected)),
    );
    this.check(
      "the HPA holds through the outage (no scale-down)",
      lowest === expected && outage.some((s) => s.metric === undefined),
      `lowest desired/deployment replicas ${lowest} over ${seconds(back.at - cutAt)} s with the metric absent for ${seconds(restoreAt - gone.at)} s`,
    );
    if (observed.scaledObject) {
      // No fallback is configured, so KEDA must not make up a replica count: its ScaledObject may
      // report the failing trigger, but never Fallback True.
      const states = [...new Set(outage.map((s) => s.scaledObject ?? "-"))];
      this.kedaDuringCut = states;
      this.check(
        "KEDA reports the failing trigger and uses no fallback count",
        outage.every((s) => !(s.scaledObject ?? "").includes("Fallback True")),
        `ScaledObject during the cut: ${states.join(" → ")}`,
      );
    }

    // 4. Drain: the queue empties; the workers stay for the stabilization window, then step down
    // by what the scale-down policy allows.
    const purgedAt = this.timeline.add("step", "purge the queue");
    await fixture.purge();
    const zero = await observer.waitFor(`${METRIC_NAME} = 0`, (s) => s.metric === 0, {
      timeoutMs: 60_000,
      since: purgedAt,
    });
    const down = await observer.waitFor(
      "the first scale-down",
      (s) => s.deploymentReplicas !== undefined && s.deploymentReplicas < expected,
      { timeoutMs: (window + 120) * 1000, since: zero.at },
    );
    this.figures.purgeToFirstScaleDownSeconds = seconds(down.at - purgedAt);
    // The HPA may have read 0 one sample before we did, and its last high recommendation is one
    // sync period older than its first 0: the window is measured from that one.
    const minimumHold = window - HPA_SYNC_PERIOD_SECONDS - SAMPLE_SECONDS;
    this.check(
      `holds ${expected} replicas through the ${window} s scale-down window`,
      seconds(down.at - zero.at) >= minimumHold,
      `first scale-down ${seconds(down.at - zero.at)} s after the metric read 0 (at least ${minimumHold} s)`,
    );
    const history = replicaChanges(observer.between(0, down.at));
    const floor = Math.max(minReplicas, scaleDownLimit(scaleDown, expected, history, down.at));
    this.check(
      "steps down as the scale-down policy allows",
      down.deploymentReplicas === floor,
      `${expected}→${down.deploymentReplicas}; the policy allows down to ${floor} per period`,
    );
    await sleep(3 * HPA_SYNC_PERIOD_SECONDS * 1000);
    const after = observer.between(down.at);
    const stayed = after.every((s) => s.deploymentReplicas === floor) && after.at(-1)?.readyReplicas === floor;
    this.check(
      "one step per policy period",
      stayed,
      `replicas over the next ${3 * HPA_SYNC_PERIOD_SECONDS} s: ${[...new Set(after.map((s) => s.deploymentReplicas))].join(", ")}, ready ${after.at(-1)?.readyReplicas ?? 0}`,
    );
  }

  /** KEDA mode, external scaler: the scale-to-zero timeline (external-scaler.ts). */
  externalFigures: ExternalScalerFigures | undefined;

  /**
   * KEDA mode, after run(): the same queue scaled by KEDA through the exporter's external scaler
   * (k8s/components/keda-external) instead of the Prometheus trigger, down to 0 and back.
   */
  async externalScaler(): Promise<void> {
    const { overlay, fixture } = this.ready();
    // Its HPA will carry the same name: one observer at a time.
    await this.observer?.stop();
    this.externalFigures = await runExternalScaler({
      name: this.name,
      dir: join(this.env.dir, this.name),
      namespace: overlay.namespace,
      fixture,
      cluster: this.env.cluster,
      api: this.env.api,
      prometheus: this.env.prometheus,
      timeline: this.timeline,
      backlog: this.backlog ?? 0,
      check: (name, ok, detail) => this.check(name, ok, detail),
    });
  }

  /** The backlog run() published. */
  private backlog: number | undefined;

  /** KEDA mode: the ScaledObject's conditions seen while the broker could not be read, in order. */
  kedaDuringCut: string[] | undefined;

  /**
   * The HPA the scenario checks and how to watch it. With the adapter, the overlay's own HPA. With
   * KEDA, the HPA KEDA made from the ScaledObject, read back from the cluster, after checking that
   * it says what the ScaledObject says: an External metric with an AverageValue target of the
   * threshold, the same min/max and behavior.
   */
  private async scalingTarget(): Promise<{ spec: HpaSpec; target: ObserverTarget }> {
    const { overlay, fixture } = this.ready();
    const namespace = overlay.namespace;
    if (this.env.engine === "adapter") {
      const manifest = findManifest(overlay, "HorizontalPodAutoscaler", "queuescale-worker");
      return {
        spec: (manifest as unknown as { spec: HpaSpec }).spec,
        target: adapterTarget(namespace, fixture.selector),
      };
    }
    const { kubectl } = this.env.cluster;
    const scaledObject = findManifest(overlay, "ScaledObject", "queuescale-worker") as unknown as {
      spec: {
        minReplicaCount?: number;
        maxReplicaCount?: number;
        advanced?: { horizontalPodAutoscalerConfig?: { behavior?: HpaSpec["behavior"] } };
        triggers: { metricType?: string; metadata: { threshold: string } }[];
      };
    };
    const hpaName = await waitFor(
      async () => {
        const live = await kubectl.json<{ status?: { hpaName?: string } }>([
          "get",
          "scaledobject",
          "queuescale-worker",
          "-n",
          namespace,
        ]);
        return live.status?.hpaName;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: "KEDA to make the ScaledObject's HPA" },
    );
    const hpa = await kubectl.json<{
      spec: HpaSpec & {
        metrics: { external?: { metric: { name: string; selector?: { matchLabels?: Record<string, string> } } } }[];
      };
    }>(["get", "hpa", hpaName, "-n", namespace]);
    const metric = hpa.spec.metrics[0]?.external?.metric;
    const so = scaledObject.spec;
    const trigger = so.triggers[0];
    const target = hpa.spec.metrics[0]?.external?.target;
    this.check(
      "KEDA's HPA says what the ScaledObject says",
      metric !== undefined &&
        target?.type === "AverageValue" &&
        Number(target.averageValue) === Number(trigger?.metadata.threshold) &&
        hpa.spec.minReplicas === (so.minReplicaCount ?? 0) &&
        hpa.spec.maxReplicas === so.maxReplicaCount &&
        isDeepStrictEqual(hpa.spec.behavior, so.advanced?.horizontalPodAutoscalerConfig?.behavior),
      `HPA ${hpaName}: External ${metric?.name} ${JSON.stringify(metric?.selector?.matchLabels)}, ` +
        `${target?.type} ${target?.averageValue}, replicas ${hpa.spec.minReplicas}–${hpa.spec.maxReplicas}`,
    );
    if (!metric) throw new ScenarioFailed(`${this.name}: KEDA's HPA has no External metric`);
    return {
      spec: hpa.spec,
      target: {
        hpaName,
        metricPath: externalMetricPath(namespace, metric.selector?.matchLabels ?? {}, metric.name),
        scaledObject: "queuescale-worker",
      },
    };
  }

  /**
   * The closed loop: the workers now consume the queue the HPA reads. One worker's throughput is
   * measured first; then, twice from one worker and a fresh HPA, a burst goes in through the
   * producer pod and the HPA scales real worker pods that drain it: once undisturbed (compared with
   * the simulator, given the measured figures), once while one worker is deleted normally, one is
   * force-deleted and the exporters lose the broker for a while. Every accepted message must be
   * processed both times.
   */
  async closedLoop(): Promise<void> {
    const { overlay, fixture } = this.ready();
    if (!this.observer) throw new Error(`${this.name}: run() has not started the observer`);
    const { kubectl } = this.env.cluster;
    const namespace = overlay.namespace;
    const hpaManifest = findManifest(overlay, "HorizontalPodAutoscaler", "queuescale-worker");
    const hpa = hpaManifest.spec as HpaSpec;
    const window = hpa.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300;

    // A record the workers append each processed id to (the example handler's WORK_RECORD_FILE),
    // on a host directory every worker pod mounts.
    const recordDir = join(this.env.dir, this.name, "record");
    await mkdir(recordDir, { recursive: true });
    await chmod(recordDir, 0o777);
    const recordFile = join(recordDir, "processed.tsv");

    this.timeline.add("step", "closed loop: the workers switch to the HPA's queue (HPA removed meanwhile)");
    await kubectl.run(["delete", "hpa", "queuescale-worker", "-n", namespace]);
    const env = { ...fixture.drainingWorker, WORK_RECORD_FILE: "/record/processed.tsv" };
    const patch = {
      spec: {
        replicas: 1,
        template: {
          spec: {
            volumes: [{ name: "record", hostPath: { path: recordDir, type: "Directory" } }],
            containers: [
              {
                name: "worker",
                env: Object.entries(env).map(([name, value]) => ({ name, value })),
                volumeMounts: [{ name: "record", mountPath: "/record" }],
              },
            ],
          },
        },
      },
    };
    await kubectl.run(["patch", "deployment", "queuescale-worker", "-n", namespace, "-p", JSON.stringify(patch)]);
    await kubectl.run(["rollout", "status", "deployment/queuescale-worker", "-n", namespace, "--timeout=180s"]);
    const producer = await podAddress(this.env.cluster, namespace, "queuescale-producer", 8080);

    // Calibration, before the HPA is back: one worker's rate on a batch of its own, timed from a
    // tenth to nine tenths of it processed (what the simulator's --throughput stands for).
    const calibrationPrefix = `calibrate-${this.name}`;
    await publishThroughProducer(producer, fixture.producerQueue, LOOP_CALIBRATION, calibrationPrefix);
    const marks: number[] = [];
    await waitFor(
      async () => {
        const done = (await readProcessed(recordFile, calibrationPrefix)).distinct.size;
        if (marks.length === 0 && done >= LOOP_CALIBRATION / 10) marks.push(Date.now());
        if (marks.length === 1 && done >= (LOOP_CALIBRATION * 9) / 10) marks.push(Date.now());
        return done >= LOOP_CALIBRATION ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: `one worker to process ${LOOP_CALIBRATION} calibration messages` },
    );
    const throughput = (LOOP_CALIBRATION * 0.8) / Math.max(0.1, ((marks[1] ?? 0) - (marks[0] ?? 0)) / 1000);
    this.timeline.add("step", `calibration: one worker processes ${throughput.toFixed(1)} messages/s`);

    // 1. A burst without faults: what the simulator is compared with.
    const plain = await this.burst({ label: "loop", producer, recordFile, hpaManifest, window, faults: false });
    const startup = await workerStartupSeconds(this.env.cluster, namespace, plain.publishedAt);
    this.figures.loopPublishToFirstScaleUpSeconds = plain.firstUpSeconds;
    this.figures.loopDrainSeconds = plain.drainSeconds;
    this.figures.loopPeakReplicas = plain.peakReplicas;
    this.figures.loopReplicaSeconds = plain.replicaSeconds;
    this.figures.loopThroughputPerPod = Math.round(throughput * 10) / 10;
    this.figures.loopPodStartupSeconds = startup;

    // The simulator with the same HPA, burst and what this run measured.
    const hpaFile = join(this.env.dir, this.name, "hpa.json");
    await writeFile(hpaFile, JSON.stringify(hpaManifest));
    const sim = await simulateBurst({
      hpaFile,
      messages: plain.accepted,
      throughputPerReplica: throughput,
      startupSeconds: startup ?? 0,
      scrapeIntervalSeconds: this.env.prometheus.scrapeIntervalSeconds,
      // Exporter poll interval (the overlays' POLL_INTERVAL_SECONDS) before the scrape sees it.
      adapterDelaySeconds: 5,
      syncPeriodSeconds: HPA_SYNC_PERIOD_SECONDS,
      initialReplicas: 1,
    });
    const row = (label: string, predicted: number | null, real: number) => {
      const off = predicted === null ? "n/a" : `${(((predicted - real) / real) * 100).toFixed(0)} %`;
      return `${label.padEnd(18)} ${String(predicted ?? "never").padStart(10)} ${String(real).padStart(10)} ${off.padStart(8)}`;
    };
    this.comparison = [
      `${this.name}: ${sim.command}`,
      `${"".padEnd(18)} ${"predicted".padStart(10)} ${"actual".padStart(10)} ${"off".padStart(8)}`,
      row("drain time (s)", sim.summary.drainSeconds, plain.drainSeconds),
      row("peak replicas", sim.summary.peakReplicas, plain.peakReplicas),
      row("replica-seconds", sim.summary.replicaSeconds, plain.replicaSeconds),
    ].join("\n");

    // 2. The same burst with faults during the drain: nothing may be lost.
    const faulted = await this.burst({ label: "faults", producer, recordFile, hpaManifest, window, faults: true });
    this.figures.faultsDrainSeconds = faulted.drainSeconds;
    this.figures.faultsReplicaSeconds = faulted.replicaSeconds;
  }

  /**
   * One burst from one worker and a freshly created HPA: publish through the producer pod, wait
   * until every accepted id was processed and the metric reads 0, then for the first scale-down.
   * With `faults`, workers are deleted and the exporters cut during the drain (faults()).
   */
  private async burst(options: {
    label: string;
    producer: string;
    recordFile: string;
    hpaManifest: unknown;
    window: number;
    faults: boolean;
  }): Promise<{
    publishedAt: number;
    accepted: number;
    drainSeconds: number;
    peakReplicas: number;
    replicaSeconds: number;
    firstUpSeconds: number | undefined;
  }> {
    const { overlay, fixture, proxy } = this.ready();
    const observer = this.observer!;
    const { kubectl } = this.env.cluster;
    const namespace = overlay.namespace;
    const resetAt = this.timeline.add("step", `${options.label}: one worker, HPA recreated`);
    await kubectl.run(["delete", "hpa", "queuescale-worker", "-n", namespace, "--ignore-not-found"]);
    await kubectl.run(["scale", "deployment/queuescale-worker", "-n", namespace, "--replicas=1"]);
    await kubectl.apply(JSON.stringify(options.hpaManifest));
    await observer.waitFor(
      "one ready worker on the HPA's queue, metric 0",
      (s) => s.metric === 0 && s.readyReplicas === 1 && s.deploymentReplicas === 1 && s.desiredReplicas === 1,
      { timeoutMs: 120_000, since: resetAt },
    );

    const prefix = `${options.label}-${this.name}`;
    const publishedAt = this.timeline.add(
      "step",
      `${options.label}: publishing ${LOOP_BURST} messages through the producer pod`,
    );
    const published = await publishThroughProducer(options.producer, fixture.producerQueue, LOOP_BURST, prefix);
    this.timeline.add("step", `${options.label}: producer accepted ${published.accepted} messages`);

    const faults = options.faults ? this.faults(publishedAt, proxy) : undefined;
    let drainedAt = 0;
    // When the HPA's metric reads 0 too: the scale-down window counts from its first sync after that.
    let metricZeroAt = 0;
    let processed = await readProcessed(options.recordFile, prefix);
    await waitFor(
      async () => {
        processed = await readProcessed(options.recordFile, prefix);
        // Drained when the workers' record holds every id (read each second): the metric reads 0
        // only a poll and a scrape later, which would lengthen the drain time and replica-seconds.
        if (drainedAt === 0 && processed.distinct.size >= published.accepted) drainedAt = Date.now();
        if (drainedAt === 0 || observer.latest?.metric !== 0) return undefined;
        metricZeroAt = Date.now();
        return true;
      },
      { timeoutMs: 600_000, intervalMs: 1_000, what: `${published.accepted} distinct processed ids and metric 0` },
    );
    this.timeline.add("step", `${options.label}: drained, ${processed.distinct.size} distinct ids processed`);
    const faultReport = await faults;
    const samplesSoFar = observer.between(publishedAt);
    const down = await observer.waitFor(
      "the first scale-down after the drain",
      (s) => s.deploymentReplicas !== undefined && s.deploymentReplicas < peak(samplesSoFar),
      { timeoutMs: (options.window + 120) * 1000, since: metricZeroAt },
    );

    const lost = published.ids.filter((id) => !processed.distinct.has(id));
    this.check(
      `${options.label}: every accepted message processed (distinct ids)`,
      lost.length === 0 && processed.distinct.size >= published.accepted,
      `accepted ${published.accepted}, distinct processed ${processed.distinct.size}, lost ${lost.length}, ` +
        `deliveries ${processed.deliveries}, duplicates ${processed.duplicates.size}` +
        (processed.duplicates.size > 0 ? ` (${[...processed.duplicates.keys()].slice(0, 5).join(", ")}…)` : ""),
    );
    if (faultReport) {
      this.check("the HPA holds while the exporters cannot read the broker", faultReport.held, faultReport.detail);
    }
    const samples = observer.between(publishedAt, down.at + 1);
    const firstUp = samples.find((s) => (s.deploymentReplicas ?? 0) > 1);
    this.timeline.add(
      "step",
      `${options.label}: chart (every 5 s):\n${indent(textChart(samples, publishedAt, down.at))}`,
    );
    return {
      publishedAt,
      accepted: published.accepted,
      drainSeconds: seconds(drainedAt - publishedAt),
      peakReplicas: peak(samples),
      replicaSeconds: replicaSeconds(samples, publishedAt, drainedAt, (s) => s.deploymentReplicas ?? 0),
      firstUpSeconds: firstUp ? seconds(firstUp.at - publishedAt) : undefined,
    };
  }

  /** Predicted against actual for the closed loop, once it ran. */
  comparison: string | undefined;

  /** The faults during the drain; resolves with whether the HPA held through the exporter cut. */
  private async faults(publishedAt: number, proxy: TcpProxy): Promise<{ held: boolean; detail: string }> {
    const observer = this.observer!;
    const { kubectl } = this.env.cluster;
    const namespace = this.ready().overlay.namespace;
    await observer.waitFor("4 ready workers", (s) => (s.readyReplicas ?? 0) >= 4, {
      timeoutMs: 180_000,
      since: publishedAt,
    });
    const workers = await kubectl.json<{ items: { metadata: { name: string } }[] }>([
      "get",
      "pods",
      "-n",
      namespace,
      "-l",
      "app.kubernetes.io/name=queuescale-worker",
    ]);
    const [gentle, forced] = workers.items.map((pod) => pod.metadata.name);
    if (gentle) {
      this.timeline.add("step", `fault: delete pod ${gentle} (SIGTERM, graceful drain)`);
      await kubectl.run(["delete", "pod", gentle, "-n", namespace, "--wait=false"]);
    }
    if (forced) {
      this.timeline.add("step", `fault: delete pod ${forced} --grace-period=0 --force`);
      await kubectl.run(["delete", "pod", forced, "-n", namespace, "--grace-period=0", "--force"]);
    }
    const cutAt = this.timeline.add("step", `fault: cut the exporters' broker connection for ${LOOP_CUT_SECONDS} s`);
    const before = observer.latest?.desiredReplicas ?? 0;
    await proxy.cut();
    await sleep(LOOP_CUT_SECONDS * 1000);
    await proxy.restore();
    const restoredAt = this.timeline.add("step", "fault: exporters' broker connection restored");
    const during = observer.between(cutAt, restoredAt);
    const lowest = Math.min(...during.map((s) => s.desiredReplicas ?? before));
    return {
      held: lowest >= before,
      detail: `desired ${before} at the cut, lowest ${lowest} during ${LOOP_CUT_SECONDS} s without the exporters`,
    };
  }

  /** What prepare() set up (the overlay, the broker fixture), for scenarios that build on it. */
  prepared(): { overlay: RenderedOverlay; fixture: BrokerFixture } {
    return this.ready();
  }

  private ready(): { overlay: RenderedOverlay; fixture: BrokerFixture; proxy: TcpProxy } {
    if (!this.overlay || !this.fixture || !this.proxy) throw new Error(`${this.name}: prepare() has not run`);
    return { overlay: this.overlay, fixture: this.fixture, proxy: this.proxy };
  }

  /** Stops what the scenario started and deletes what it created on the broker; never throws. */
  async dispose(): Promise<void> {
    await this.observer?.stop();
    await this.proxy?.close();
    await this.clientRelay?.close();
    try {
      await this.fixture?.dispose();
    } catch (error) {
      this.timeline.add("step", `could not delete ${this.fixture?.description}: ${String(error)}`);
    }
  }
}

export class ScenarioFailed extends Error {}

/** Replicas each Deployment of the overlay asks for (1 when it does not say). */
function deploymentReplicas(overlay: RenderedOverlay): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const manifest of overlay.manifests) {
    if (manifest.kind !== "Deployment") continue;
    counts[manifest.metadata.name] = (manifest.spec as { replicas?: number }).replicas ?? 1;
  }
  return counts;
}

interface PodList {
  items: {
    metadata: { labels?: Record<string, string> };
    status?: { conditions?: { type: string; status: string }[] };
  }[];
}

/** Ready pods per app.kubernetes.io/name (which is each Deployment's name in the overlays). */
async function readyPods(cluster: ControlPlane, namespace: string): Promise<Map<string, number>> {
  const list = await cluster.kubectl.json<PodList>(["get", "pods", "-n", namespace]);
  const ready = new Map<string, number>();
  for (const pod of list.items) {
    const name = pod.metadata.labels?.["app.kubernetes.io/name"];
    if (!name) continue;
    const isReady = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
    ready.set(name, (ready.get(name) ?? 0) + (isReady ? 1 : 0));
  }
  return ready;
}

function peak(samples: readonly Sample[]): number {
  return Math.max(0, ...samples.map((s) => s.deploymentReplicas ?? 0));
}

/** host:port of the first Ready pod of a Deployment (the host reaches pod IPs on the bridge). */
export async function podAddress(
  cluster: ControlPlane,
  namespace: string,
  name: string,
  port: number,
): Promise<string> {
  const list = await cluster.kubectl.json<{ items: { status?: { podIP?: string } }[] }>([
    "get",
    "pods",
    "-n",
    namespace,
    "-l",
    `app.kubernetes.io/name=${name}`,
    "--field-selector=status.phase=Running",
  ]);
  const ip = list.items.find((pod) => pod.status?.podIP)?.status?.podIP;
  if (!ip) throw new Error(`no running ${name} pod in ${namespace}`);
  return `${ip}:${port}`;
}

/**
 * Median seconds from creation to Ready of the worker pods created after `since` (still present):
 * what the simulator's --startup stands for. Undefined when none were created.
 */
async function workerStartupSeconds(cluster: ControlPlane, namespace: string, since: number) {
  const list = await cluster.kubectl.json<{
    items: {
      metadata: { creationTimestamp: string };
      status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    }[];
  }>(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=queuescale-worker"]);
  const startups = list.items
    .filter((pod) => Date.parse(pod.metadata.creationTimestamp) >= since - 1000)
    .map((pod) => {
      const ready = pod.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True");
      return ready?.lastTransitionTime
        ? (Date.parse(ready.lastTransitionTime) - Date.parse(pod.metadata.creationTimestamp)) / 1000
        : undefined;
    })
    .filter((value): value is number => value !== undefined)
    .sort((a, b) => a - b);
  return startups.length === 0 ? undefined : startups[Math.floor(startups.length / 2)];
}

function selectorMatchers(namespace: string, selector: Record<string, string>): string {
  return Object.entries({ namespace, ...selector })
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(",");
}

function replicaChanges(samples: readonly Sample[]): ReplicaChange[] {
  const changes: ReplicaChange[] = [];
  let previous: number | undefined;
  for (const sample of samples) {
    const replicas = sample.deploymentReplicas;
    if (replicas === undefined) continue;
    if (previous !== undefined && replicas !== previous) changes.push({ at: sample.at, from: previous, to: replicas });
    previous = replicas;
  }
  return changes;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => `             ${line}`)
    .join("\n");
}
