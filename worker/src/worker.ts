import type { Server } from "node:http";
import {
  DepthCollector,
  closeServer,
  createLogger,
  createObservabilityApp,
  describeError,
  finishApp,
  listen,
  readSettings,
  type Logger,
  type ReadSettingsOptions,
} from "@queuescale/core";
import { workerBroker } from "./brokers/index.js";
import { OwnDepthSource } from "./depth.js";
import { loadHandler } from "./handler.js";
import type { Handler } from "./message.js";
import { WorkerMetrics } from "./metrics.js";
import { MessageProcessor } from "./processor.js";
import { workerSettings, type CommonWorkerSettings } from "./settings.js";

export interface StartOptions extends ReadSettingsOptions {
  /** A handler to use instead of loading HANDLER (for embedding and benchmarks). */
  handler?: Handler;
  logger?: Logger;
}

export interface RunningWorker {
  readonly port: number;
  readonly broker: string;
  readonly logger: Logger;
  readonly collector: DepthCollector;
  /** Resolves once messages flow; rejects when the topology is missing or wrong. */
  readonly consuming: Promise<void>;
  /** Stops taking messages, lets in-flight ones finish within SHUTDOWN_TIMEOUT_SECONDS, closes. */
  stop(): Promise<void>;
}

/**
 * Starts a worker: validates settings (ConfigError before anything connects), serves /metrics,
 * /healthz and /readyz at once, and consumes in the background, reconnecting as needed.
 */
export async function startWorker(options: StartOptions = {}): Promise<RunningWorker> {
  const settings = readSettings(workerSettings, options) as CommonWorkerSettings & Record<string, unknown>;
  const logger = options.logger ?? createLogger("queuescale-worker", settings.LOG_LEVEL);
  const adapter = workerBroker(settings.BROKER);
  const module = adapter.worker;
  const handler = options.handler ?? (await loadHandler(settings.HANDLER));

  let connected = false;
  let stopping = false;
  const identity = module.identity(settings);
  const depthSources = module
    .createDepthSources(settings, logger)
    .map((source) => new OwnDepthSource(source, identity));
  const intervalMs = settings.DEPTH_POLL_INTERVAL_SECONDS * 1000;
  const collector = new DepthCollector(depthSources, { intervalMs, timeoutMs: Math.max(intervalMs, 5000) }, logger);
  const metrics = new WorkerMetrics({
    queue: { broker: adapter.name, ...identity },
    concurrency: settings.CONCURRENCY,
    drainTargetSeconds: settings.DRAIN_TARGET_SECONDS,
  });
  collector.addRegistry(metrics.registry);
  const consumer = module.createConsumer(
    settings,
    {
      concurrency: settings.CONCURRENCY,
      maxAttempts: settings.MAX_ATTEMPTS,
      declare: settings.DECLARE,
      retryMaxDelayMs: settings.RETRY_MAX_DELAY_SECONDS * 1000,
    },
    {
      logger,
      onConnectionChange(isConnected) {
        connected = isConnected;
        metrics.setConnected(isConnected);
      },
      onDeadLettered: () => metrics.settled("dead_letter"),
    },
  );
  const processor = new MessageProcessor(
    handler,
    {
      maxAttempts: settings.MAX_ATTEMPTS,
      firstDelayMs: settings.RETRY_DELAY_SECONDS * 1000,
      maxDelayMs: settings.RETRY_MAX_DELAY_SECONDS * 1000,
      handlerTimeoutMs: settings.HANDLER_TIMEOUT_SECONDS * 1000,
    },
    metrics,
    logger,
  );

  const app = finishApp(
    createObservabilityApp({
      metrics: (format) => collector.exposition(format),
      // Ready means taking messages. Depth polling is reported but does not decide: a worker that
      // consumes is useful even when its gauges cannot be read.
      readiness: () => ({
        ready: connected && !stopping,
        connected,
        stopping,
        consuming: consumer.description,
        inFlight: processor.inFlightCount,
        oldestInFlightSeconds: processor.oldestInFlightSeconds(),
        depthSources: collector.readiness().sources,
      }),
    }),
  );
  let server: Server;
  let port: number;
  try {
    ({ server, port } = await listen(app, settings.LISTEN_ADDRESS));
  } catch (error) {
    await Promise.all(depthSources.map((source) => source.close()));
    throw error;
  }
  collector.start();
  logger.info(
    {
      listen: `${settings.LISTEN_ADDRESS.host}:${port}`,
      broker: adapter.name,
      consuming: consumer.description,
      concurrency: settings.CONCURRENCY,
      maxAttempts: settings.MAX_ATTEMPTS,
    },
    "queuescale-worker started",
  );

  const consuming = consumer.start(processor.accept);
  consuming.catch(() => undefined);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      const deadline = Date.now() + settings.SHUTDOWN_TIMEOUT_SECONDS * 1000;
      logger.info({ inFlight: processor.inFlightCount }, "stopping: finishing in-flight messages");
      await consumer.stopConsuming();
      const drained = await processor.drain(Math.max(0, deadline - Date.now()));
      if (!drained) {
        const left = processor.abandon();
        logger.warn(
          { left, timeoutSeconds: settings.SHUTDOWN_TIMEOUT_SECONDS },
          "shutdown timeout: unfinished messages left unacknowledged for redelivery",
        );
      }
      await consumer.close().catch((error: unknown) => {
        logger.warn({ error: describeError(error) }, "closing the broker connection failed");
      });
      await collector.stop();
      await closeServer(server);
      logger.info("stopped");
    })();
    return stopped;
  };

  return { port, broker: adapter.name, logger, collector, consuming, stop };
}
