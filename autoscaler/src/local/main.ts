#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  ConfigError,
  booleanSetting,
  closeServer,
  createLogger,
  listen,
  listenAddressSetting,
  logLevelSetting,
  onShutdownSignal,
  readSettings,
  runMain,
  printHelpIfAsked,
  urlListSetting,
  urlSetting,
} from "@queuescale/core";
import { DEFAULT_FLAGS, describeMetric } from "../engine/index.js";
import { hpaOrConfigError, pickHpaObject } from "../sim/manifest.js";
import { AdapterRulesReader, parseExternalRules } from "./adapter-rules.js";
import { externalMetricQueries } from "./hpa-manifest.js";
import { LocalAutoscaler } from "./local-autoscaler.js";
import { PrometheusReader, ScrapeReader, type ExternalMetricReader } from "./metric-reader.js";
import { createStatusApp } from "./status-server.js";
import { writeTargetsFile } from "./targets-file.js";
import { scaleTime } from "./time-scale.js";
import { WorkerPool } from "./worker-pool.js";
import { defaultWorkerCommand } from "./worker-command.js";

const PROGRAM = "queuescale-local";

function hpaName(hpa: Record<string, unknown>): string {
  const metadata = hpa.metadata as { name?: unknown } | undefined;
  return typeof metadata?.name === "string" ? metadata.name : "(unnamed)";
}

const settings = {
  HPA: z
    .string()
    .describe(
      "HorizontalPodAutoscaler manifest file, or - for stdin (e.g. kubectl kustomize k8s/overlays/rabbitmq | …).",
    ),
  HPA_NAME: z.string().optional().describe("Which HPA, when the manifest holds several."),
  METRICS_URL: urlListSetting(["http", "https"])
    .default(["http://127.0.0.1:9422/metrics"])
    .describe("Exporter /metrics URL(s) to read the External metric from. Default http://127.0.0.1:9422/metrics."),
  SCRAPE_WORKERS: booleanSetting(true).describe(
    "Also read the depth series the workers publish (max over reporters). Default true.",
  ),
  PROMETHEUS_URL: urlSetting(["http", "https"])
    .optional()
    .describe("Read the metric from this Prometheus instead (sum of max by queue, as the adapter rules)."),
  ADAPTER_CONFIG: z
    .string()
    .optional()
    .describe(
      "With PROMETHEUS_URL: a Prometheus Adapter configuration (e.g. monitoring/prometheus-adapter/config.yaml); External metrics are then read through its externalRules, recording rules included.",
    ),
  NAMESPACE: z
    .string()
    .optional()
    .describe(
      "The HPA's namespace, which the adapter's queries filter on. Default: the HPA's metadata.namespace, else default.",
    ),
  TARGETS_FILE: z
    .string()
    .optional()
    .describe("Keep the workers' metrics addresses in this file, in Prometheus file_sd_configs format."),
  SYNC_PERIOD_SECONDS: z.coerce
    .number()
    .positive()
    .default(15)
    .describe("Seconds between controller syncs. Default 15."),
  TIME_SCALE: z.coerce
    .number()
    .min(1)
    .default(1)
    .describe("Divide the sync period, stabilization windows and policy periods by this (demo speed). Default 1."),
  MAX_REPLICAS: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe("Cap the HPA's maxReplicas (a laptop runs fewer workers than a cluster)."),
  WORKER_COMMAND: z
    .string()
    .optional()
    .describe("Command that starts one worker (split on spaces). Default: the built queuescale-worker."),
  WORKER_GRACE_PERIOD_SECONDS: z.coerce
    .number()
    .positive()
    .default(30)
    .describe("SIGKILL a stopping worker after this long, like terminationGracePeriodSeconds. Default 30."),
  STATUS_ADDRESS: listenAddressSetting("127.0.0.1:9430").describe(
    "host:port of the status page. Default 127.0.0.1:9430.",
  ),
  LOG_DIR: z
    .string()
    .default(".tmp/local-workers")
    .describe("Folder for the workers' log files. Default .tmp/local-workers."),
  LOG_LEVEL: logLevelSetting().describe("Log level of the autoscaler itself. Default info."),
};

/** Where the External metrics come from: the adapter's rules on Prometheus, Prometheus, or the exporter and workers. */
function metricReader(
  config: {
    PROMETHEUS_URL?: string | undefined;
    ADAPTER_CONFIG?: string | undefined;
    NAMESPACE?: string | undefined;
    METRICS_URL: string[];
    SCRAPE_WORKERS: boolean;
  },
  hpa: Record<string, unknown>,
  pool: WorkerPool,
): ExternalMetricReader {
  if (config.ADAPTER_CONFIG !== undefined) {
    if (config.PROMETHEUS_URL === undefined) throw new ConfigError("ADAPTER_CONFIG", "needs PROMETHEUS_URL");
    let rules;
    try {
      rules = parseExternalRules(readFileSync(config.ADAPTER_CONFIG, "utf8"));
    } catch (error) {
      const reason = (error as { code?: string }).code ?? (error instanceof Error ? error.message : String(error));
      throw new ConfigError("ADAPTER_CONFIG", `cannot use it (${reason})`);
    }
    const metadata = hpa.metadata as { namespace?: unknown } | undefined;
    const namespace = config.NAMESPACE ?? (typeof metadata?.namespace === "string" ? metadata.namespace : "default");
    return new AdapterRulesReader(config.PROMETHEUS_URL, rules, namespace);
  }
  if (config.PROMETHEUS_URL !== undefined) return new PrometheusReader(config.PROMETHEUS_URL);
  return new ScrapeReader(() => [...config.METRICS_URL, ...(config.SCRAPE_WORKERS ? pool.metricsUrls() : [])]);
}

const SUMMARY = [
  "Runs the Kubernetes HPA algorithm on one machine: reads the External metric of an HPA manifest,",
  "and starts/stops real queuescale-worker processes (which get this process's environment).",
  "Serves a status page.",
].join("\n");

runMain(PROGRAM, async () => {
  const argv = process.argv.slice(2);
  if (printHelpIfAsked(argv, PROGRAM, SUMMARY, settings)) return;
  const config = readSettings(settings, { argv, env: process.env });
  const logger = createLogger(PROGRAM, config.LOG_LEVEL);

  let text: string;
  try {
    text = readFileSync(config.HPA === "-" ? 0 : config.HPA, "utf8");
  } catch (error) {
    throw new ConfigError("HPA", `cannot read it (${(error as { code?: string }).code ?? String(error)})`);
  }
  const raw = pickHpaObject(text, config.HPA_NAME);
  const queries = externalMetricQueries(raw);
  const parsed = hpaOrConfigError(raw, "HPA");
  // Only External metrics can be read here; other metrics (CPU from the optional component) are
  // left out rather than reported missing, which would block every scale-down.
  const kept = parsed.metrics.flatMap((metric, index) => (queries[index] ? [{ metric, query: queries[index] }] : []));
  if (kept.length === 0) throw new ConfigError("HPA", "has no External metric to read");
  for (const metric of parsed.metrics.filter((_metric, index) => !queries[index])) {
    logger.warn({ metric: describeMetric(metric) }, "metric left out: only External metrics are read locally");
  }
  const maxReplicas = Math.min(parsed.maxReplicas, config.MAX_REPLICAS ?? parsed.maxReplicas);
  const scaled = scaleTime(
    {
      ...parsed,
      maxReplicas,
      minReplicas: Math.min(parsed.minReplicas, maxReplicas),
      metrics: kept.map((entry) => entry.metric),
    },
    DEFAULT_FLAGS,
    config.TIME_SCALE,
  );

  const workerCommand = (config.WORKER_COMMAND ?? defaultWorkerCommand()).split(/\s+/).filter(Boolean);
  const targetsFile = config.TARGETS_FILE;
  const pool: WorkerPool = new WorkerPool({
    command: workerCommand,
    env: process.env,
    logDir: config.LOG_DIR,
    gracePeriodMs: config.WORKER_GRACE_PERIOD_SECONDS * 1000,
    ...(targetsFile === undefined ? {} : { onChange: () => writeTargetsFile(targetsFile, pool.scrapeTargets()) }),
  });
  if (targetsFile !== undefined) writeTargetsFile(targetsFile, []);
  const reader: ExternalMetricReader = metricReader(config, raw, pool);
  const syncPeriodSeconds = config.SYNC_PERIOD_SECONDS / config.TIME_SCALE;
  const autoscaler = new LocalAutoscaler({
    spec: scaled.spec,
    queries: kept.map((entry) => entry.query),
    reader,
    pool,
    flags: scaled.flags,
    syncPeriodMs: syncPeriodSeconds * 1000,
    logger,
  });
  const first = kept[0]!;
  const changes = [
    ...(config.TIME_SCALE === 1
      ? []
      : [`sync period, stabilization windows and policy periods divided by ${config.TIME_SCALE}`]),
    ...(maxReplicas < parsed.maxReplicas
      ? [`maxReplicas capped at ${maxReplicas} (manifest: ${parsed.maxReplicas})`]
      : []),
  ];
  const note = changes.length === 0 ? undefined : `Demo settings: ${changes.join("; ")}.`;
  const app = createStatusApp(autoscaler, pool, {
    hpaName: hpaName(raw),
    metric: first.query.name,
    target: describeMetric(first.metric),
    minReplicas: scaled.spec.minReplicas,
    maxReplicas: scaled.spec.maxReplicas,
    syncPeriodSeconds,
    source: reader.description,
    ...(note ? { note } : {}),
  });
  const { server, port } = await listen(app, config.STATUS_ADDRESS);
  await autoscaler.start();
  logger.info(
    {
      status: `http://${config.STATUS_ADDRESS.host}:${port}/`,
      hpa: hpaName(raw),
      metric: first.query.name,
      syncPeriodSeconds,
      ...(note ? { note } : {}),
    },
    "queuescale-local started",
  );
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, "stopping workers");
    await closeServer(server);
    await autoscaler.stop();
  });
});
