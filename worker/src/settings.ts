import { z, type ZodType } from "zod";
import {
  booleanSetting,
  countSetting,
  listenAddressSetting,
  logLevelSetting,
  optionalSecondsSetting,
  secondsSetting,
} from "@queuescale/core";
import { WORKER_BROKERS } from "./brokers/index.js";

/** The brokers a worker consumes: the adapters that have a consumer. */
const CONSUMED = WORKER_BROKERS.map((adapter) => adapter.name);

/** Settings every worker has, whichever broker it consumes. */
export const commonWorkerSettings = {
  BROKER: z
    .enum(CONSUMED, { message: `must be one of ${CONSUMED.join(", ")}` })
    .describe(`Broker to consume: ${CONSUMED.join(" or ")}.`),
  HANDLER: z
    .string({ message: "is required: the path of the module that exports handle(message, context)" })
    .describe("Module exporting `handle(message, context)` (named or default); a path or a package name."),
  CONCURRENCY: countSetting(10, { min: 1, max: 10_000 }).describe(
    "Messages handled at once (RabbitMQ prefetch; JetStream messages in flight), 1 to 10000. Default 10.",
  ),
  MAX_ATTEMPTS: countSetting(5, { min: 1, max: 1000 }).describe(
    "Deliveries of a failing message before it goes to the dead letters, 1 to 1000. Default 5.",
  ),
  RETRY_DELAY_SECONDS: secondsSetting(1, { min: 0.001, max: 86_400 }).describe(
    "Delay before the first retry; doubles per attempt. 0.001 to 86400. Default 1.",
  ),
  RETRY_MAX_DELAY_SECONDS: secondsSetting(60, { min: 0.001, max: 86_400 }).describe(
    "Longest delay between retries, 0.001 to 86400. Default 60.",
  ),
  HANDLER_TIMEOUT_SECONDS: secondsSetting(0, { min: 0, max: 86_400 })
    .refine((value) => value === 0 || value >= 0.1, {
      message: "must be 0 (no timeout) or a number of seconds between 0.1 and 86400",
    })
    .describe(
      "How long one message may take in the handler; past it the attempt counts as failed and its slot is freed. 0 (default): no limit; else 0.1 to 86400.",
    ),
  SHUTDOWN_TIMEOUT_SECONDS: secondsSetting(25, { min: 0.1, max: 3600 }).describe(
    "On SIGTERM, how long in-flight messages may take to finish; the rest is left to the broker. 0.1 to 3600. Default 25.",
  ),
  DECLARE: booleanSetting(false).describe(
    "true: create the queue/stream/consumer and the retry and dead-letter topology; false: expect them. Default false.",
  ),
  DEPTH_POLL_INTERVAL_SECONDS: secondsSetting(5, { min: 0.1, max: 3600 }).describe(
    "Seconds between polls of the worker's own queue depth for /metrics, 0.1 to 3600. Default 5.",
  ),
  DRAIN_TARGET_SECONDS: optionalSecondsSetting({ min: 1, max: 86_400 }).describe(
    "Drain-time target of the queue, published as queuescale_worker_drain_target_seconds for the drain-time recording rules (docs/drain-time.md), 1 to 86400. Unset (default): no target.",
  ),
  LISTEN_ADDRESS: listenAddressSetting("0.0.0.0:9423").describe(
    "host:port for /metrics, /healthz, /readyz. Default 0.0.0.0:9423.",
  ),
  LOG_LEVEL: logLevelSetting().describe("fatal, error, warn, info, debug, trace or silent. Default info."),
};

/** Common settings plus every broker's own (for parsing, validation and --help). */
export const workerSettings: Record<string, ZodType> = Object.assign(
  {},
  commonWorkerSettings,
  ...WORKER_BROKERS.map((adapter) => adapter.worker.settings),
);

export type CommonWorkerSettings = z.infer<z.ZodObject<typeof commonWorkerSettings>>;
