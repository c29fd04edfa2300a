import {
  BROKER_ADAPTERS,
  type BrokerAdapter,
  DEFAULT_MAX_RESPONSE_BYTES,
  MAX_RESPONSE_BYTES_RANGE,
  countSetting,
  listenAddressSetting,
  logLevelSetting,
  regexSetting,
  secondsSetting,
} from "@queuescale/core";
import type { z, ZodType } from "zod";
import { scalerSettings } from "./scaler/settings.js";

/** Settings every exporter has, whichever brokers it reads. */
export const commonSettings = {
  QUEUE_INCLUDE: regexSetting()
    .optional()
    .describe(
      "Regex (RE2 syntax: no backreferences or lookaround); only queues (RabbitMQ) or streams/consumers (JetStream) whose name matches are exported.",
    ),
  QUEUE_EXCLUDE: regexSetting()
    .optional()
    .describe(
      "Regex (RE2 syntax: no backreferences or lookaround); queues or streams/consumers whose name matches are not exported.",
    ),
  POLL_INTERVAL_SECONDS: secondsSetting(5, { min: 0.1, max: 3600 }).describe(
    "Seconds between polls of each source, 0.1 to 3600. Default 5.",
  ),
  POLL_TIMEOUT_SECONDS: secondsSetting(10, { min: 0.1, max: 600 }).describe(
    "A poll slower than this counts as failed (reason timeout), 0.1 to 600. Default 10.",
  ),
  MAX_RESPONSE_BYTES: countSetting(DEFAULT_MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES_RANGE).describe(
    `Largest broker HTTP answer read (RabbitMQ prometheus and management, NATS /jsz), ${MAX_RESPONSE_BYTES_RANGE.min} to ${MAX_RESPONSE_BYTES_RANGE.max} bytes; a larger one fails the poll (reason too_large). Default ${DEFAULT_MAX_RESPONSE_BYTES} (256 MiB).`,
  ),
  LISTEN_ADDRESS: listenAddressSetting("0.0.0.0:9422").describe(
    "host:port for /metrics, /healthz, /readyz. Default 0.0.0.0:9422.",
  ),
  LOG_LEVEL: logLevelSetting().describe("fatal, error, warn, info, debug, trace or silent. Default info."),
  ...scalerSettings,
};

/** The adapters the exporter reads: those that can read depths. */
export function depthAdapters(adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS): DepthAdapter[] {
  return adapters.filter((adapter): adapter is DepthAdapter => adapter.depth !== undefined);
}

export type DepthAdapter = BrokerAdapter & Required<Pick<BrokerAdapter, "depth">>;

/** Common settings plus the settings of every adapter read (for parsing, validation and --help). */
export function exporterSettingsOf(adapters: readonly BrokerAdapter[]): Record<string, ZodType> {
  return Object.assign({}, commonSettings, ...depthAdapters(adapters).map((adapter) => adapter.settings));
}

export const exporterSettings = exporterSettingsOf(BROKER_ADAPTERS);

export type CommonSettings = z.infer<z.ZodObject<typeof commonSettings>>;
