import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import type { BrokerFixture, BrokerModule } from "./brokers/types.js";
import type { ApiClient } from "./lib/api.js";
import { HPA_SYNC_PERIOD_SECONDS, type ControlPlane } from "./lib/cluster.js";
import { scaleDownLimit, scaleUpLimit, type HpaSpec, type ReplicaChange } from "./lib/hpa-policy.js";
import { describe, externalMetricPath, METRIC_NAME, Observer, type Sample } from "./lib/observer.js";
import { containerEnvironment, findManifest, renderOverlay, type RenderedOverlay } from "./lib/overlay.js";
import { REPO_ROOT } from "./lib/paths.js";
import type { ProcessGroup } from "./lib/processes.js";
import type { Prometheus } from "./lib/prometheus.js";
import { Timeline, type Checks } from "./lib/timeline.js";
import { freePort, httpOk, waitFor } from "./lib/wait.js";

/** The backlog the scenario publishes, in multiples of the HPA's per-replica target. */
const BACKLOG_IN_TARGETS = 7.5;
/**
 * Exporter processes per scenario. Both publish the same series, as exporter replicas and workers
 * do; the adapter rule's max over reporters must still give the queue's depth, not twice it.
 */
const EXPORTER_REPLICAS = 2;
/** The observer's sampling interval, in seconds. */
const SAMPLE_SECONDS = 1;

export interface ScenarioEnvironment {
  readonly dir: string;
  readonly processes: ProcessGroup;
  readonly cluster: ControlPlane;
  readonly api: ApiClient;
  readonly prometheus: Prometheus;
  readonly checks: Checks;
}

/** Figures the run reports per broker. */
export interface ScenarioFigures {
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
  private readonly exporterAddresses: string[] = [];
  private readonly exporterNames: string[] = [];

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

  /** Creates the queue, renders the overlay, starts the exporters and has Prometheus scrape them. */
  async prepare(): Promise<void> {
    const dir = join(this.env.dir, this.name);
    const secretDir = join(dir, "secret");
    await mkdir(secretDir, { recursive: true });
    this.fixture = await this.module.create();
    this.timeline.add("step", `created ${this.fixture.description}`);
    this.overlay = await renderOverlay(join(dir, "overlay"), this.fixture, this.env.cluster.kubectl);
    this.proxy = new TcpProxy(this.fixture.exporterUpstreamPort);
    const proxyPort = await this.proxy.start();
    for (const [key, content] of Object.entries(this.fixture.secretFor(proxyPort))) {
      await writeFile(join(secretDir, key), content, { mode: 0o600 });
    }
    const settings = containerEnvironment(this.overlay, "queuescale-exporter", secretDir);
    for (let replica = 0; replica < EXPORTER_REPLICAS; replica++) {
      const port = await freePort();
      const name = `exporter-${this.name}-${replica}`;
      // A clean environment: only what the overlay gives the pod, so nothing from the caller's
      // shell (a RABBITMQ_URL, say) changes what the exporter reads.
      this.env.processes.start(name, process.execPath, [join(REPO_ROOT, "exporter", "dist", "main.js")], {
        env: { PATH: process.env.PATH ?? "", ...settings, LISTEN_ADDRESS: `127.0.0.1:${port}` },
      });
      const address = `127.0.0.1:${port}`;
      await waitFor(() => httpOk(`http://${address}/healthz`), {
        timeoutMs: 30_000,
        what: `${name} /healthz`,
        abort: () => (this.env.processes.alive(name) ? undefined : `exited; see ${this.env.processes.logPath(name)}`),
      });
      this.exporterNames.push(name);
      this.exporterAddresses.push(address);
      await this.env.prometheus.addTarget({
        address,
        labels: { namespace: this.overlay.namespace, pod: `queuescale-exporter-${replica}` },
      });
    }
    this.timeline.add(
      "step",
      `${EXPORTER_REPLICAS} exporters reading ${this.name} through TCP proxy :${proxyPort}, scraped every 5 s`,
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
    const hpa = (findManifest(overlay, "HorizontalPodAutoscaler", "queuescale-worker") as unknown as { spec: HpaSpec })
      .spec;
    const target = Number(hpa.metrics[0]?.external?.target?.averageValue);
    const minReplicas = hpa.minReplicas ?? 1;
    const scaleUp = hpa.behavior?.scaleUp ?? {};
    const scaleDown = hpa.behavior?.scaleDown ?? {};
    const window = scaleDown.stabilizationWindowSeconds ?? 300;
    const backlog = Math.round(target * BACKLOG_IN_TARGETS);
    const expected = Math.min(hpa.maxReplicas, Math.max(minReplicas, Math.ceil(backlog / target)));

    await kubectl.apply(overlay.yaml);
    this.timeline.add("step", `applied the ${this.name} overlay in namespace ${namespace}`);
    const observer = new Observer(this.env.api, namespace, fixture.selector, this.timeline, SAMPLE_SECONDS * 1000);
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
    const raw = JSON.parse(await kubectl.run(["get", "--raw", externalMetricPath(namespace, fixture.selector)])) as {
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

  private ready(): { overlay: RenderedOverlay; fixture: BrokerFixture; proxy: TcpProxy } {
    if (!this.overlay || !this.fixture || !this.proxy) throw new Error(`${this.name}: prepare() has not run`);
    return { overlay: this.overlay, fixture: this.fixture, proxy: this.proxy };
  }

  /** Stops what the scenario started and deletes what it created on the broker; never throws. */
  async dispose(): Promise<void> {
    await this.observer?.stop();
    for (const address of this.exporterAddresses)
      await this.env.prometheus.removeTarget(address).catch(() => undefined);
    for (const name of this.exporterNames) await this.env.processes.stop(name);
    await this.proxy?.close();
    try {
      await this.fixture?.dispose();
    } catch (error) {
      this.timeline.add("step", `could not delete ${this.fixture?.description}: ${String(error)}`);
    }
  }
}

export class ScenarioFailed extends Error {}

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
