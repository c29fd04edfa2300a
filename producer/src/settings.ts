import {
  countSetting,
  listSetting,
  listenAddressSetting,
  logLevelSetting,
  PRODUCER_BROKER_SETTINGS,
  secondsSetting,
} from "@queuescale/core";
import { z } from "zod";
import { PRODUCER_BROKERS } from "./brokers/index.js";
import { durationSetting } from "./duration.js";

/** The brokers the producer publishes to: the adapters that have a publisher. */
const PUBLISHED = PRODUCER_BROKERS.map((adapter) => adapter.name);

/** Every setting of queuescale-producer, for parsing, validation, --help and the docs. */
export const producerSettings = {
  BROKER: z
    .enum(PUBLISHED, { message: `must be one of ${PUBLISHED.join(", ")}` })
    .describe(`Broker to publish to: ${PUBLISHED.join(" or ")}.`),
  ...PRODUCER_BROKER_SETTINGS,
  ADMIN_TOKEN: z
    .string()
    .min(16, { message: "must be at least 16 characters" })
    .optional()
    .describe("Bearer token for the admin routes (create, purge, delete). Admin routes answer 404 when unset."),
  MAX_BATCH_MESSAGES: countSetting(1000, { min: 1, max: 100_000 }).describe(
    "Most messages in one POST, 1 to 100000. Default 1000.",
  ),
  MAX_BODY_BYTES: countSetting(1_048_576, { min: 1024, max: 268_435_456 }).describe(
    "Largest request body in bytes, and largest row of an upload, 1024 to 268435456 (256 MiB). Default 1048576 (1 MiB).",
  ),
  MAX_UPLOAD_BYTES: countSetting(1_073_741_824, { min: 1024, max: 1_099_511_627_776 }).describe(
    "Largest file POST /v1/queues/NAME/upload takes (raw body or the multipart file), 1024 to 1099511627776 (1 TiB). Default 1073741824 (1 GiB).",
  ),
  PUBLISH_TIMEOUT_SECONDS: secondsSetting(10, { min: 0.1, max: 600 }).describe(
    "A message not confirmed by the broker within this many seconds is reported as not accepted; every other broker operation (existence check, channel open, admin routes, connection attempt) fails with 503 past it. 0.1 to 600. Default 10.",
  ),
  ALLOWED_QUEUES: listSetting()
    .refine((entries) => entries.every((entry) => !entry.slice(0, -1).includes("*")), {
      message: "only a trailing * is a wildcard (orders-*)",
    })
    .optional()
    .describe(
      "Comma-separated queues the API may publish to; an entry ending in * is a prefix (orders-*). Unset: every queue but the worker's internal ones.",
    ),
  SHUTDOWN_TIMEOUT_SECONDS: secondsSetting(20, { min: 0.1, max: 3600 }).describe(
    "On SIGTERM, the longest wait for requests under way before their connections are closed. 0.1 to 3600. Default 20.",
  ),
  LISTEN_ADDRESS: listenAddressSetting("0.0.0.0:8080").describe("host:port of the HTTP API. Default 0.0.0.0:8080."),
  LOG_LEVEL: logLevelSetting().describe("fatal, error, warn, info, debug, trace or silent. Default info."),
  MESSAGE_INTERVAL: durationSetting("1s").describe(
    "Time between messages of the trickle command (200ms, 1s, 2m). Default 1s; --interval sets it too.",
  ),
};

export type ProducerSettings = z.infer<z.ZodObject<typeof producerSettings>>;
