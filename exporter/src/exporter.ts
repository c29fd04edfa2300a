import type { Server } from "node:http";
import {
  BROKER_MODULES,
  ConfigError,
  DepthCollector,
  NameFilter,
  closeServer,
  createLogger,
  createObservabilityApp,
  finishApp,
  listen,
  readSettings,
  type DepthSource,
  type Logger,
  type ReadSettingsOptions,
} from "@queuescale/core";
import { exporterSettings, type CommonSettings } from "./settings.js";

export interface RunningExporter {
  readonly port: number;
  readonly collector: DepthCollector;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/** Validates settings and builds the sources; throws ConfigError before anything connects. */
export function buildSources(options: ReadSettingsOptions, logger?: Logger) {
  // Broker modules read their own keys from the same parsed record.
  const settings = readSettings(exporterSettings, options) as CommonSettings & Record<string, unknown>;
  const log = logger ?? createLogger("queuescale-exporter", settings.LOG_LEVEL);
  const filter = new NameFilter(settings.QUEUE_INCLUDE, settings.QUEUE_EXCLUDE);
  const configured = BROKER_MODULES.filter((module) => module.isConfigured(settings));
  if (configured.length === 0) {
    throw new ConfigError(
      "broker address",
      "set at least one of RABBITMQ_URL, RABBITMQ_MANAGEMENT_URL, RABBITMQ_PROMETHEUS_URL, NATS_URL, NATS_MONITOR_URL",
    );
  }
  const sources: DepthSource[] = configured.flatMap((module) =>
    module.createSources(settings, { filter, logger: log, maxResponseBytes: settings.MAX_RESPONSE_BYTES }),
  );
  return { settings, sources, logger: log };
}

/** Starts polling and serving. A broker that is down at start is not an error: it is retried. */
export async function startExporter(options: ReadSettingsOptions, logger?: Logger): Promise<RunningExporter> {
  const { settings, sources, logger: log } = buildSources(options, logger);
  const intervalMs = settings.POLL_INTERVAL_SECONDS * 1000;
  const collector = new DepthCollector(sources, { intervalMs, timeoutMs: settings.POLL_TIMEOUT_SECONDS * 1000 }, log);
  const app = finishApp(
    createObservabilityApp({
      metrics: (format) => collector.exposition(format),
      readiness: () => collector.readiness(),
    }),
  );
  let server: Server;
  let port: number;
  try {
    ({ server, port } = await listen(app, settings.LISTEN_ADDRESS));
  } catch (error) {
    await Promise.all(sources.map((source) => source.close()));
    throw error;
  }
  collector.start();
  log.info(
    {
      listen: `${settings.LISTEN_ADDRESS.host}:${port}`,
      sources: sources.map((source) => `${source.broker}/${source.name}`),
      pollIntervalSeconds: settings.POLL_INTERVAL_SECONDS,
    },
    "queuescale-exporter started",
  );
  return {
    port,
    collector,
    logger: log,
    async stop() {
      await closeServer(server);
      await collector.stop();
    },
  };
}
