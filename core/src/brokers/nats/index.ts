import type { Logger } from "pino";
import { urlListSetting, urlSetting } from "../../config.js";
import type { NameFilter } from "../../sources/filter.js";
import type { DepthSource } from "../../sources/types.js";
import type { BrokerAdapter } from "../adapter.js";
import { natsConnectionOptions, natsErrorReason } from "./connection.js";
import { NATS_RESERVED_HEADERS } from "./headers.js";
import { JetStreamSource } from "./jetstream-source.js";
import { JszSource } from "./jsz-source.js";

/** Every NATS setting; the exporter reads them all, the worker and the producer NATS_URL. */
export const natsSettings = {
  // The Node client speaks the NATS protocol over TCP only (no WebSocket).
  NATS_URL: urlSetting(["nats", "tls"])
    .optional()
    .describe(
      "NATS server URL (nats://user:pass@host:4222, nats://token@host:4222; tls:// requires TLS). Required by the worker and the producer with BROKER=nats; turns the exporter's JetStream source on (JetStream API).",
    ),
  NATS_MONITOR_URL: urlListSetting(["http", "https"])
    .optional()
    .describe(
      "NATS monitoring endpoint(s) (http://host:8222), comma-separated, one per server when clustered. When set, the exporter's depths come from /jsz.",
    ),
};

export const natsAdapter = {
  name: "nats",
  identityLabels: ["stream", "consumer"],
  settings: natsSettings,
  depth: {
    isConfigured: (settings) => settings.NATS_URL !== undefined || settings.NATS_MONITOR_URL !== undefined,
    createSources: (settings, { filter, logger, maxResponseBytes }) => {
      // /jsz is one HTTP request per server and needs no client connection, so it wins when given.
      if (settings.NATS_MONITOR_URL !== undefined) {
        return settings.NATS_MONITOR_URL.map((url) => new JszSource({ url, filter, logger, maxResponseBytes }));
      }
      if (settings.NATS_URL === undefined) return [];
      return [new JetStreamSource({ connection: natsConnectionOptions(settings.NATS_URL), filter, logger })];
    },
  },
  classifyError: natsErrorReason,
  reservedHeaders: NATS_RESERVED_HEADERS,
} as const satisfies BrokerAdapter<typeof natsSettings>;

export { JetStreamSource, JszSource };

/**
 * The JetStream API source over NATS_URL alone, for the programs that have no exporter settings:
 * a worker's own consumer (a filter of its stream and consumer), the producer's queue list.
 */
export function jetStreamDepthSources(url: string, filter: NameFilter, logger: Logger): DepthSource[] {
  return [new JetStreamSource({ connection: natsConnectionOptions(url), filter, logger })];
}
