/**
 * A real Prometheus scrapes the real exporter reading the real brokers, with known backlogs: every
 * query queuescale ships (adapter rules as the adapter fills them, recording and alerting rules,
 * dashboard panels and variables) must parse and return data, and the adapter's external query must
 * give exactly the backlog although three scrape jobs report the same series.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, DEPTH_METRICS, IDENTITY_LABELS, RESERVED_LABELS } from "@queuescale/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { JetStreamScenario } from "@queuescale/test-support/nats/scenario";
import { MANAGEMENT_URL, RabbitScenario } from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";
import { ScalerClient } from "@queuescale/test-support/scaler-client";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { startExporter, type RunningExporter } from "../../exporter/src/exporter.js";
import { buildDashboard } from "../src/dashboard.js";
import { MONITORING_DIR, PATHS, kedaScaledObjectPath } from "../src/generated.js";
import { adapterConfig, fillMetricsQuery, type AdapterRule } from "./support/adapter.js";
import { PrometheusServer, type VectorSample } from "@queuescale/test-support/prometheus-server";
import { withGrafanaVariables } from "./support/promql.js";
import { StandInTargets } from "./support/stand-in-targets.js";

const NAMESPACE = "queuescale-it";
const REPORTER_JOBS = ["queuescale-exporter-a", "queuescale-exporter-b", "queuescale-exporter-c"];
/** RabbitMQ queues with known contents: `jobs` has a backlog and no consumer. */
const RABBIT_QUEUES = [
  { name: "jobs", published: 7, held: 0 },
  { name: "busy", published: 5, held: 2 },
];
const NATS_CONSUMER = "workers";
const NATS_FIRST_BATCH = 4;
const NATS_GROWTH = { batches: 4, perBatch: 2, intervalMs: 1_000 };
/**
 * A worker that finished messages for 5 scrapes (2 a scrape, 1 handler-second: s = 0.5) and then
 * none while its backlog of 480 stays, with T = 60 and c = 2. Once the 1-minute windows hold only
 * the idle part, arrivals are 0 and s is the last known one: (480 / 60 + 0) * 0.5 / 2 = 2.
 */
const IDLE_WORKER = {
  queueName: "drain",
  busyScrapes: 5,
  perScrape: { messages: 2, handlerSeconds: 1 },
  concurrency: 2,
  drainTargetSeconds: 60,
  depth: 480,
};
const DRAIN_TIME_METRIC = "queuescale_queue_required_replicas";

let rabbit: RabbitScenario;
let nats: JetStreamScenario;
let natsPublished = 0;
let prometheus: PrometheusServer;
let rulesDir: string | undefined;
let standIns: StandInTargets;
const exporters: RunningExporter[] = [];
const proxies: TcpProxy[] = [];
let scaler: ScalerClient | undefined;

async function exporter(env: Record<string, string>): Promise<string> {
  const running = await startExporter(
    { env: { LISTEN_ADDRESS: "127.0.0.1:0", POLL_INTERVAL_SECONDS: "1", POLL_TIMEOUT_SECONDS: "2", ...env } },
    createLogger("test", "silent"),
  );
  exporters.push(running);
  return `127.0.0.1:${running.port}`;
}

function natsSelector(): Record<string, string> {
  return { broker: "nats", stream: nats.stream, consumer: NATS_CONSUMER };
}

function rabbitSelector(queue: string): Record<string, string> {
  return { broker: "rabbitmq", vhost: rabbit.vhost, queue };
}

function values(samples: VectorSample[]): number[] {
  return samples.map((sample) => Number(sample.value[1]));
}

/** Waits until an expression's values are `expected`; returns the last values seen either way. */
async function settledValues(expr: string, expected: number[], timeoutMs = 30_000): Promise<number[]> {
  let last: number[] = [];
  await eventually(
    async () => {
      last = values(await prometheus.query(expr));
      return last.join() === expected.join() ? last : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `${expr} == ${expected.join()}` },
  ).catch(() => undefined);
  return last;
}

/** Waits until an expression returns data, then returns it. */
function dataOf(expr: string, timeoutMs = 30_000): Promise<VectorSample[]> {
  return eventually(
    async () => {
      const result = await prometheus.query(expr);
      return result.length > 0 ? result : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `data from ${expr}` },
  );
}

beforeAll(async () => {
  rabbit = await RabbitScenario.create(RABBIT_QUEUES);
  nats = await JetStreamScenario.create();
  await nats.addPullConsumer(NATS_CONSUMER, { filter: "jobs" });
  await nats.publish("jobs", NATS_FIRST_BATCH);
  natsPublished = NATS_FIRST_BATCH;

  const rabbitExporter = await exporter({ RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL, RABBITMQ_VHOSTS: rabbit.vhost });
  // This one also serves the KEDA external scaler, which KEDA asks while the backlog grows below.
  const natsExporter = await exporter({
    NATS_URL: "nats://127.0.0.1:4222",
    QUEUE_INCLUDE: `^${nats.stream}$`,
    SCALER_LISTEN_ADDRESS: "127.0.0.1:0",
  });
  scaler = new ScalerClient(`127.0.0.1:${exporters.at(-1)!.scalerPort}`);
  // An exporter whose broker goes away: its source reports up 0 and counts poll errors.
  const proxy = new TcpProxy(15672);
  proxies.push(proxy);
  const proxyPort = await proxy.start();
  const failingExporter = await exporter({
    RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${proxyPort}`,
    RABBITMQ_VHOSTS: rabbit.vhost,
  });
  await proxy.cut();

  standIns = await StandInTargets.start({
    namespace: NAMESPACE,
    workerQueue: natsSelector(),
    workerQueueDepth: () => natsPublished,
    idleWorker: { ...IDLE_WORKER, queue: rabbitSelector(IDLE_WORKER.queueName) },
  });

  // As the Kubernetes scrape jobs do, every target gets the namespace it runs in.
  const targetLabels = { namespace: NAMESPACE };
  // The shipped rules, evaluated at this set-up's 1 s cadence: the recording group's own
  // `interval` (the shipped 10 s scrape interval) would leave a few points per window here.
  rulesDir = mkdtempSync(join(tmpdir(), "qs-rules-"));
  const shipped = parse(readFileSync(`${MONITORING_DIR}${PATHS.rules}`, "utf8")) as {
    groups: Array<Record<string, unknown>>;
  };
  const rulesFile = join(rulesDir, "rules.yaml");
  writeFileSync(rulesFile, stringify({ groups: shipped.groups.map((group) => ({ ...group, interval: "1s" })) }));
  prometheus = await PrometheusServer.start({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    rule_files: [rulesFile],
    scrape_configs: [
      ...REPORTER_JOBS.map((job) => ({
        job_name: job,
        static_configs: [{ targets: [rabbitExporter, natsExporter], labels: targetLabels }],
      })),
      {
        job_name: "queuescale-exporter-failing",
        static_configs: [{ targets: [failingExporter], labels: targetLabels }],
      },
      {
        job_name: "queuescale-worker",
        metrics_path: "/worker",
        static_configs: [
          { targets: [`127.0.0.1:${standIns.port}`], labels: { ...targetLabels, pod: "queuescale-worker-0" } },
        ],
      },
      {
        job_name: "queuescale-idle-worker",
        metrics_path: "/idle-worker",
        static_configs: [
          { targets: [`127.0.0.1:${standIns.port}`], labels: { ...targetLabels, pod: "queuescale-idle-worker-0" } },
        ],
      },
      {
        job_name: "kube-state-metrics",
        metrics_path: "/ksm",
        static_configs: [{ targets: [`127.0.0.1:${standIns.port}`] }],
      },
    ],
  });

  // The JetStream backlog grows while Prometheus watches, for the "backlog growing" rules.
  await dataOf(`queuescale_queue_depth{consumer="${NATS_CONSUMER}", stream="${nats.stream}"}`);
  for (let batch = 0; batch < NATS_GROWTH.batches; batch++) {
    await new Promise((resolve) => setTimeout(resolve, NATS_GROWTH.intervalMs));
    await nats.publish("jobs", NATS_GROWTH.perBatch);
    natsPublished += NATS_GROWTH.perBatch;
    await scaler.getMetrics({ ...natsSelector(), value: "10" });
  }
}, 120_000);

afterAll(async () => {
  scaler?.close();
  await prometheus?.stop();
  if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
  await standIns?.stop();
  await Promise.all(exporters.map((running) => running.stop()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await rabbit?.dispose();
  await nats?.dispose();
});

describe("queries against a real Prometheus scraping the real exporter", () => {
  it("three jobs report each queue, and the adapter's external query gives exactly its backlog", async () => {
    const [depthRule] = adapterConfig().externalRules.filter((rule) => rule.name.as === DEPTH_METRICS.depth.name);
    const cases = [
      ...RABBIT_QUEUES.map((queue) => ({ selector: rabbitSelector(queue.name), backlog: queue.published })),
      { selector: natsSelector(), backlog: NATS_FIRST_BATCH + NATS_GROWTH.batches * NATS_GROWTH.perBatch },
    ];
    for (const { selector, backlog } of cases) {
      const query = fillMetricsQuery(depthRule!, { selector, namespace: NAMESPACE });
      expect(await settledValues(query, [backlog]), query).toEqual([backlog]);
      // What the HPA would see if reporters were added up instead: proof there are three of them.
      const matchers = Object.entries(selector).map(([label, value]) => `${label}="${value}"`);
      const reporters = await prometheus.query(
        `count(${DEPTH_METRICS.depth.name}{${[...matchers, `job=~"queuescale-exporter-.*"`].join(",")}})`,
      );
      expect(values(reporters)).toEqual([REPORTER_JOBS.length]);
    }
  });

  it("the RabbitMQ KEDA component's query, pointed at the test's vhost and namespace, gives exactly the backlog", async () => {
    const scaledObject = parse(readFileSync(`${MONITORING_DIR}${kedaScaledObjectPath("rabbitmq")}`, "utf8")) as {
      spec: { triggers: Array<{ metadata: { query: string } }> };
    };
    const query = scaledObject.spec.triggers[0]!.metadata.query.replace(
      'namespace="queuescale"',
      `namespace="${NAMESPACE}"`,
    ).replace('vhost="queuescale"', `vhost="${rabbit.vhost}"`);
    const jobs = RABBIT_QUEUES.find((queue) => queue.name === "jobs")!;
    expect(query).toContain('queue="jobs"');
    expect(await settledValues(query, [jobs.published]), query).toEqual([jobs.published]);
  });

  it("depth series carry exactly the labels the HPA selectors name, and the namespace the adapter maps", async () => {
    for (const broker of ["rabbitmq", "nats"] as const) {
      const series = await prometheus.series(
        `${DEPTH_METRICS.depth.name}{broker="${broker}", job="${REPORTER_JOBS[0]}"}`,
      );
      expect(series.length).toBeGreaterThan(0);
      for (const labels of series) {
        const exported = Object.keys(labels).filter(
          (name) => name !== "__name__" && !(RESERVED_LABELS as readonly string[]).includes(name),
        );
        expect(exported.sort()).toEqual(["broker", ...IDENTITY_LABELS[broker]].sort());
        expect(labels.namespace).toBe(NAMESPACE);
      }
    }
  });

  it("every external and custom adapter rule, filled as the adapter fills it, returns data", async () => {
    const config = adapterConfig();
    const external = config.externalRules.map((rule: AdapterRule) =>
      fillMetricsQuery(rule, { selector: natsSelector(), namespace: NAMESPACE }),
    );
    const custom = config.rules.map((rule: AdapterRule) =>
      fillMetricsQuery(rule, { namespace: NAMESPACE, resource: { label: "pod", names: ["queuescale-worker-0"] } }),
    );
    for (const query of [...external, ...custom, ...config.externalRules.map((rule) => rule.seriesQuery)]) {
      expect((await dataOf(query)).length, query).toBeGreaterThan(0);
    }
  });

  it("every recording rule returns data, and the alert expressions all hold in this set-up", async () => {
    const rules = parse(readFileSync(`${MONITORING_DIR}${PATHS.rules}`, "utf8")) as {
      groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
    };
    const entries = rules.groups.flatMap((group) => group.rules);
    for (const rule of entries.filter((entry) => entry.record)) {
      expect((await dataOf(rule.record!)).length, rule.record).toBeGreaterThan(0);
    }
    // Each alert's condition is true here: a growing JetStream backlog, an HPA at its maximum, a
    // source behind a cut proxy, a worker dead-lettering, a RabbitMQ queue without consumers.
    for (const rule of entries.filter((entry) => entry.alert)) {
      expect((await dataOf(rule.expr)).length, rule.alert).toBeGreaterThan(0);
    }
    const withoutConsumers = await prometheus.query(
      entries.find((entry) => entry.alert === "QueuescaleBacklogWithoutConsumers")!.expr,
    );
    const idle = withoutConsumers.filter((sample) => sample.metric.vhost === rabbit.vhost).map((s) => s.metric.queue);
    expect(idle).toEqual(["jobs"]);
  });

  it("every dashboard query and variable query returns data", async () => {
    const dashboard = buildDashboard();
    const panelQueries = (dashboard.panels ?? []).flatMap((panel) =>
      ((panel as { targets?: Array<{ expr?: string }> }).targets ?? []).map((target) => target.expr!),
    );
    const variableQueries = (dashboard.templating?.list ?? [])
      .filter((variable) => variable.type === "query")
      .map((variable) => (variable.query as { query: string }).query.replace(/^label_values\((.*), \w+\)$/, "$1"));
    expect(panelQueries.length).toBeGreaterThan(15);
    for (const expr of [...panelQueries, ...variableQueries]) {
      const query = withGrafanaVariables(expr);
      expect((await dataOf(query)).length, query).toBeGreaterThan(0);
    }
  });

  it("recording rules dedupe reporters and join the worker's acks to its queue", async () => {
    const selector = Object.entries(natsSelector())
      .map(([label, value]) => `${label}="${value}"`)
      .join(",");
    const backlog = NATS_FIRST_BATCH + NATS_GROWTH.batches * NATS_GROWTH.perBatch;
    // Recording rules run a scrape and an evaluation behind the last publish.
    expect(await settledValues(`queuescale:queue_depth:max{${selector}}`, [backlog])).toEqual([backlog]);
    expect(await settledValues(`queuescale:queue_workers:count{${selector}}`, [1])).toEqual([1]);
    expect(await settledValues(`queuescale:queue_backlog_per_replica:ratio{${selector}}`, [backlog])).toEqual([
      backlog,
    ]);
    const acks = await dataOf(`queuescale:queue_acks:rate2m{${selector}}`);
    expect(values(acks)[0]).toBeGreaterThan(0);
  });

  it("drain time: the adapter's query over the recorded series gives (backlog / T + arrivals) * s / c, with the last known s", async () => {
    const rule = adapterConfig().externalRules.find((entry) => entry.name.as === DRAIN_TIME_METRIC)!;
    expect(rule).toBeDefined();
    const selector = rabbitSelector(IDLE_WORKER.queueName);
    const query = fillMetricsQuery(rule, { selector, namespace: NAMESPACE });
    const { perScrape, depth, drainTargetSeconds, concurrency } = IDLE_WORKER;
    const handlerSeconds = perScrape.handlerSeconds / perScrape.messages;
    const expected = ((depth / drainTargetSeconds + 0) * handlerSeconds) / concurrency;
    expect(expected).toBe(2);
    // The windows are 1 minute: the idle part fills them a little over a minute after the start.
    expect(await settledValues(query, [expected], 140_000), query).toEqual([expected]);
    const matchers = Object.entries(selector)
      .map(([label, value]) => `${label}="${value}"`)
      .join(",");
    // Nothing finished in the last minute: s over the window is absent, the last known one serves.
    expect(await prometheus.query(`queuescale:queue_handler_seconds:mean1m{${matchers}}`)).toEqual([]);
    expect(values(await prometheus.query(`queuescale:queue_handler_seconds:last1h{${matchers}}`))).toEqual([
      handlerSeconds,
    ]);
    expect(values(await prometheus.query(`queuescale:queue_arrivals:rate1m{${matchers}}`))).toEqual([0]);
  }, 180_000);
});
