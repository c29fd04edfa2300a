import type { Logger } from "pino";
import { ConfigError, countSetting } from "../../../config.js";
import type { BrokerClient, ProducerBrokerModule, PublisherOptions } from "../../../publisher/types.js";
import { pickSettings } from "../../adapter.js";
import { rabbitmqSettings } from "../settings.js";
import { RabbitClient } from "./client.js";

/** The producer's RabbitMQ settings. */
export const rabbitmqProducerSettings = {
  ...pickSettings(rabbitmqSettings, ["RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL"]),
  RABBITMQ_HEARTBEAT_SECONDS: countSetting(5, { min: 1, max: 600 }).describe(
    "RabbitMQ: AMQP heartbeat asked for (the broker may lower it). A connection silent for about two heartbeats is closed, the producer is not ready and reconnects. 1 to 600. Default 5.",
  ),
};

export const rabbitmqProducerModule: ProducerBrokerModule<typeof rabbitmqProducerSettings> = {
  settings: rabbitmqProducerSettings,
  connect(settings, { publishTimeoutMs }: PublisherOptions, logger: Logger): BrokerClient {
    if (!settings.RABBITMQ_URL) throw new ConfigError("RABBITMQ_URL", "must be set when BROKER is rabbitmq");
    return new RabbitClient(
      settings.RABBITMQ_URL,
      settings.RABBITMQ_MANAGEMENT_URL,
      publishTimeoutMs,
      settings.RABBITMQ_HEARTBEAT_SECONDS,
      logger,
    );
  },
};
