import type { Server } from "node:http";
import {
  BROKER_ADAPTERS,
  ConfigError,
  DepthCollector,
  NameFilter,
  closeServer,
  createLogger,
  createObservabilityApp,
  finishApp,
  listen,
  readSettings,
  type BrokerAdapter,
  type DepthSource,
  type Logger,
  type ReadSettingsOptions,
} from "@queuescale/core";
import { depthAdapters, exporterSettingsOf, type CommonSettings } from "./settings.js";
import { startScaler, type RunningScaler } from "./scaler/server.js";
import { scalerConfig } from "./scaler/settings.js";

export interface RunningExporter {
  readonly port: number;
  /** The external scaler's gRPC port, when SCALER_LISTEN_ADDRESS is set. */
  readonly scalerPort: number | undefined;
  readonly collector: DepthCollector;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/** The settings that name a broker's address: the URL settings of the adapters read. */
function addressSettings(adapters: readonly BrokerAdapter[]): string[] {
  return adapters.flatMap((adapter) => Object.keys(adapter.settings).filter((name) => name.endsWith("_URL")));
}

/**
 * Validates settings and builds the sources; throws ConfigError before anything connects.
 * `adapters` is the adapter list (a test adds one of its own to it).
 */
export function buildSources(
  options: ReadSettingsOptions,
  logger?: Logger,
  adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS,
) {
  const readers = depthAdapters(adapters);
  // Each adapter reads its own keys from the same parsed record.
  const settings = readSettings(exporterSettingsOf(readers), options) as CommonSettings & Record<string, unknown>;
  const log = logger ?? createLogger("queuescale-exporter", settings.LOG_LEVEL);
  const filter = new NameFilter(settings.QUEUE_INCLUDE, settings.QUEUE_EXCLUDE);
  const configured = readers.filter((adapter) => adapter.depth.isConfigured(settings));
  if (configured.length === 0) {
    throw new ConfigError("broker address", `set at least one of ${addressSettings(readers).join(", ")}`);
  }
  const scaler = scalerConfig(settings);
  const sources: DepthSource[] = configured.flatMap((adapter) =>
    adapter.depth.createSources(settings, { filter, logger: log, maxResponseBytes: settings.MAX_RESPONSE_BYTES }),
  );
  return { settings, sources, scaler, adapters: readers, logger: log };
}

/** Starts polling and serving. A broker that is down at start is not an error: it is retried. */
export async function startExporter(
  options: ReadSettingsOptions,
  logger?: Logger,
  adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS,
): Promise<RunningExporter> {
  const {
    settings,
    sources,
    scaler: scalerSettings,
    adapters: read,
    logger: log,
  } = buildSources(options, logger, adapters);
  const intervalMs = settings.POLL_INTERVAL_SECONDS * 1000;
  const collector = new DepthCollector(sources, { intervalMs, timeoutMs: settings.POLL_TIMEOUT_SECONDS * 1000 }, log);
  const app = finishApp(
    createObservabilityApp({
      metrics: (format) => collector.exposition(format),
      readiness: () => collector.readiness(),
    }),
  );
  let server: Server | undefined;
  let port: number;
  let scaler: RunningScaler | undefined;
  try {
    ({ server, port } = await listen(app, settings.LISTEN_ADDRESS));
    // The scaler answers from the same collector: no broker call per RPC.
    if (scalerSettings) scaler = await startScaler(scalerSettings, collector, read, log);
  } catch (error) {
    if (server) await closeServer(server);
    await Promise.all(sources.map((source) => source.close()));
    throw error;
  }
  collector.start();
  log.info(
    {
      listen: `${settings.LISTEN_ADDRESS.host}:${port}`,
      scaler: scaler && `${scalerSettings!.host}:${scaler.port}${scaler.tls ? " (TLS)" : ""}`,
      sources: sources.map((source) => `${source.broker}/${source.name}`),
      pollIntervalSeconds: settings.POLL_INTERVAL_SECONDS,
    },
    "queuescale-exporter started",
  );
  return {
    port,
    scalerPort: scaler?.port,
    collector,
    logger: log,
    async stop() {
      await Promise.all([closeServer(server), scaler?.stop()]);
      await collector.stop();
    },
  };
}
