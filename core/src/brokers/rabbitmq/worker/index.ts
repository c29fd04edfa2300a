import { queueDepthSources } from "../plan.js";
import { vhostOfAmqpUrl } from "../amqp-reading.js";
import type { DepthSource } from "../../../sources/types.js";
import type { Logger } from "pino";
import type { WorkerBrokerModule } from "../../../consumer/types.js";
import { RabbitMqConsumer } from "./consumer.js";
import { rabbitmqTarget, rabbitmqWorkerSettings, type RabbitMqWorkerSettings } from "./settings.js";

export const rabbitmqWorkerModule: WorkerBrokerModule<typeof rabbitmqWorkerSettings> = {
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
