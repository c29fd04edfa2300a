import { urlListSetting, urlSetting } from "../../config.js";

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
