import type { BrokerAdapter } from "../adapter.js";
import { rabbitmqSettings } from "./settings.js";
import { rabbitmqWorkerModule } from "./worker/index.js";
import { rabbitmqProducerModule } from "./producer/index.js";
import { amqpFailureReason } from "./amqp-reading.js";
import { RABBITMQ_RESERVED_HEADERS } from "./headers.js";
import { createRabbitmqSources } from "./plan.js";

export const rabbitmqAdapter = {
  name: "rabbitmq",
  identityLabels: ["vhost", "queue"],
  settings: rabbitmqSettings,
  depth: {
    isConfigured: (settings) =>
      settings.RABBITMQ_URL !== undefined ||
      settings.RABBITMQ_MANAGEMENT_URL !== undefined ||
      settings.RABBITMQ_PROMETHEUS_URL !== undefined,
    createSources: (settings, context) => createRabbitmqSources(settings, context),
  },
  worker: rabbitmqWorkerModule,
  producer: rabbitmqProducerModule,
  classifyError: amqpFailureReason,
  reservedHeaders: RABBITMQ_RESERVED_HEADERS,
} as const satisfies BrokerAdapter<typeof rabbitmqSettings>;

export { queueDepthSources, vhostDepthSources } from "./plan.js";
export { RABBITMQ_SOURCE_KINDS, rabbitmqSettings } from "./settings.js";
