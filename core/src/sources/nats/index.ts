import { urlListSetting, urlSetting } from "../../config.js";
import type { BrokerModule } from "../broker.js";
import { natsConnectionOptions } from "./connection.js";
import { JetStreamSource } from "./jetstream-source.js";
import { JszSource } from "./jsz-source.js";

export const natsSettings = {
  // The Node client speaks the NATS protocol over TCP only (no WebSocket).
  NATS_URL: urlSetting(["nats", "tls"])
    .optional()
    .describe(
      "NATS server URL (nats://user:pass@host:4222, nats://token@host:4222; tls:// requires TLS). Turns the JetStream source on (JetStream API).",
    ),
  NATS_MONITOR_URL: urlListSetting(["http", "https"])
    .optional()
    .describe(
      "NATS monitoring endpoint(s) (http://host:8222), comma-separated, one per server when clustered. When set, depths come from /jsz.",
    ),
};

export const natsModule: BrokerModule<typeof natsSettings> = {
  broker: "nats",
  settings: natsSettings,
  isConfigured: (settings) => settings.NATS_URL !== undefined || settings.NATS_MONITOR_URL !== undefined,
  createSources: (settings, { filter, logger, maxResponseBytes }) => {
    // /jsz is one HTTP request per server and needs no client connection, so it wins when given.
    if (settings.NATS_MONITOR_URL !== undefined) {
      return settings.NATS_MONITOR_URL.map((url) => new JszSource({ url, filter, logger, maxResponseBytes }));
    }
    if (settings.NATS_URL === undefined) return [];
    const connection = natsConnectionOptions(settings.NATS_URL);
    return [new JetStreamSource({ connection, filter, logger })];
  },
};

export { JetStreamSource, JszSource };
