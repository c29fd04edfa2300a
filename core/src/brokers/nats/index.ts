import type { BrokerAdapter } from "../adapter.js";
import { natsSettings } from "./settings.js";
import { natsWorkerModule } from "./worker/index.js";
import { natsProducerModule } from "./producer/index.js";
import { natsConnectionOptions, natsErrorReason } from "./connection.js";
import { NATS_RESERVED_HEADERS } from "./headers.js";
import { JetStreamSource } from "./jetstream-source.js";
import { JszSource } from "./jsz-source.js";

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
  worker: natsWorkerModule,
  producer: natsProducerModule,
  classifyError: natsErrorReason,
  reservedHeaders: NATS_RESERVED_HEADERS,
} as const satisfies BrokerAdapter<typeof natsSettings>;

export { JetStreamSource, JszSource, natsSettings };
export { jetStreamDepthSources } from "./jetstream-source.js";
