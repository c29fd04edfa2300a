import { z } from "zod";
import type { Logger } from "pino";
import { ConfigError } from "../../../config.js";
import type { BrokerClient, ProducerBrokerModule, PublisherOptions } from "../../../publisher/types.js";
import { pickSettings } from "../../adapter.js";
import { natsSettings } from "../settings.js";
import { isDeadLetterStreamName } from "../topology.js";
import { NatsClient } from "./client.js";

/** The producer's NATS settings. */
export const natsProducerSettings = {
  ...pickSettings(natsSettings, ["NATS_URL"]),
  STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be 1-64 letters, digits, _ or -" })
    .refine((stream) => !isDeadLetterStreamName(stream), {
      message: "names ending in _DEAD are where workers keep dead letters",
    })
    .default("WORK")
    .describe(
      "NATS: the JetStream stream messages go into. Queue NAME is the durable consumer NAME, fed by subject STREAM.NAME. Default WORK.",
    ),
};

export const natsProducerModule: ProducerBrokerModule<typeof natsProducerSettings> = {
  settings: natsProducerSettings,
  connect(settings, { publishTimeoutMs }: PublisherOptions, logger: Logger): BrokerClient {
    if (!settings.NATS_URL) throw new ConfigError("NATS_URL", "must be set when BROKER is nats");
    return new NatsClient(settings.NATS_URL, settings.STREAM, publishTimeoutMs, logger);
  },
};
