import type { Server } from "node:http";
import {
  withTimeout,
  closeServer,
  createLogger,
  describeError,
  listen,
  readSettings,
  type Logger,
  type ReadSettingsOptions,
} from "@queuescale/core";
import { createApi } from "./api.js";
import { producerBroker } from "./brokers/index.js";
import type { BrokerClient } from "./brokers/types.js";
import { ProducerMetrics } from "./metrics.js";
import { PublishPolicy } from "./publish-policy.js";
import { QueueLister } from "./queues.js";
import { producerSettings, type ProducerSettings } from "./settings.js";

/** Reads settings (ConfigError names a bad one) and starts connecting to the configured broker. */
export function connectBroker(
  options: ReadSettingsOptions,
  logger?: Logger,
): { settings: ProducerSettings; client: BrokerClient; logger: Logger } {
  const settings = readSettings(producerSettings, options);
  const log = logger ?? createLogger("queuescale-producer", settings.LOG_LEVEL);
  const client = producerBroker(settings.BROKER).producer.connect(
    settings,
    { publishTimeoutMs: settings.PUBLISH_TIMEOUT_SECONDS * 1000 },
    log,
  );
  return { settings, client, logger: log };
}

/** A promise that resolves false after `ms`, unless cancelled first. */
function deadlineAfter(ms: number): { expired: Promise<false>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return { expired, cancel: () => clearTimeout(timer) };
}

export interface RunningProducer {
  readonly port: number;
  readonly client: BrokerClient;
  readonly logger: Logger;
  /** Stops accepting requests, lets in-flight publishes finish, then closes the broker connection. */
  stop(): Promise<void>;
}

/** Serves the HTTP API. A broker that is down at start is retried; /readyz is 503 meanwhile. */
export async function startProducer(options: ReadSettingsOptions, logger?: Logger): Promise<RunningProducer> {
  const { settings, client, logger: log } = connectBroker(options, logger);
  const metrics = new ProducerMetrics(client);
  const lister = new QueueLister(client, log, settings.PUBLISH_TIMEOUT_SECONDS * 1000);
  const inFlight = new Set<Promise<unknown>>();
  const app = createApi({
    client,
    metrics,
    lister,
    logger: log,
    adminToken: settings.ADMIN_TOKEN,
    policy: new PublishPolicy(settings.ALLOWED_QUEUES),
    maxBatchMessages: settings.MAX_BATCH_MESSAGES,
    maxBodyBytes: settings.MAX_BODY_BYTES,
    maxUploadBytes: settings.MAX_UPLOAD_BYTES,
    inFlight,
  });
  let server: Server;
  let port: number;
  try {
    ({ server, port } = await listen(app, settings.LISTEN_ADDRESS));
    // An upload's body arrives as fast as the broker confirms its rows, for as long as the file
    // takes; Node's default cap on a whole request (300 s) would cut large uploads with a 408.
    server.requestTimeout = 0;
  } catch (error) {
    await client.close();
    throw error;
  }
  log.info(
    {
      listen: `${settings.LISTEN_ADDRESS.host}:${port}`,
      broker: settings.BROKER,
      admin: settings.ADMIN_TOKEN !== undefined,
    },
    "queuescale-producer started",
  );
  return {
    port,
    client,
    logger: log,
    async stop() {
      const closed = closeServer(server);
      // A request under way is let finish, but only for SHUTDOWN_TIMEOUT_SECONDS: a client that
      // sends its body a byte at a time must not keep the process past its grace period.
      const bound = deadlineAfter(settings.SHUTDOWN_TIMEOUT_SECONDS * 1000);
      const everyoneAnswered = Promise.allSettled([...inFlight]).then(() => true);
      if (!(await Promise.race([everyoneAnswered, bound.expired]))) {
        log.warn(
          { unanswered: inFlight.size, timeoutSeconds: settings.SHUTDOWN_TIMEOUT_SECONDS },
          "requests still under way at the shutdown timeout; closing their connections",
        );
      }
      bound.cancel();
      // Answers to the publishes above are written by now; drop the connections that carried them,
      // and any that never finished sending a request.
      server.closeAllConnections();
      await closed;
      // Bounded too: a broker that stopped answering must not hold the process either.
      const brokerBound = settings.PUBLISH_TIMEOUT_SECONDS * 1000;
      await withTimeout(
        Promise.all([lister.close(), client.close()]),
        brokerBound,
        () => new Error("the broker connection did not close in time"),
      ).catch((error: unknown) => log.warn({ error: describeError(error) }, "closing the broker connection"));
    },
  };
}
