import { urlListSetting, urlSetting } from "../../config.js";
import type { BrokerModule } from "../broker.js";

export const natsSettings = {
  NATS_URL: urlSetting(["nats", "tls", "ws", "wss"])
    .optional()
    .describe("NATS server URL (nats://user:pass@host:4222). Turns the JetStream source on (JetStream API)."),
  NATS_MONITOR_URL: urlListSetting(["http", "https"])
    .optional()
    .describe("NATS monitoring endpoint(s) (http://host:8222), comma-separated. When set, depths come from /jsz."),
};

export const natsModule: BrokerModule<typeof natsSettings> = {
  broker: "nats",
  settings: natsSettings,
  isConfigured: (settings) => settings.NATS_URL !== undefined || settings.NATS_MONITOR_URL !== undefined,
  createSources: () => {
    throw new Error("JetStream sources are not implemented yet");
  },
};
