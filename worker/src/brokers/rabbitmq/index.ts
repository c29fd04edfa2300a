import { queueDepthSources, rabbitmqAdapter, vhostOfAmqpUrl, type DepthSource, type Logger } from "@queuescale/core";
import type { WorkerBrokerModule } from "../types.js";
import { RabbitMqConsumer } from "./consumer.js";
import { rabbitmqTarget, rabbitmqWorkerSettings, type RabbitMqWorkerSettings } from "./settings.js";

export const rabbitmqWorkerModule: WorkerBrokerModule<typeof rabbitmqWorkerSettings> = {
  adapter: rabbitmqAdapter,
  settings: rabbitmqWorkerSettings,
  createConsumer(settings, options, hooks) {
    const { url, queue } = rabbitmqTarget(settings);
    return new RabbitMqConsumer(url, queue, options, hooks);
  },
  createDepthSources(settings: RabbitMqWorkerSettings, logger: Logger): DepthSource[] {
    const { url, queue } = rabbitmqTarget(settings);
    return queueDepthSources({ url, managementUrl: settings.RABBITMQ_MANAGEMENT_URL, queue }, logger);
  },
  identity(settings) {
    const { url, queue } = rabbitmqTarget(settings);
    return { vhost: vhostOfAmqpUrl(url), queue };
  },
};
