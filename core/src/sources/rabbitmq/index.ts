import { z } from "zod";
import { listSetting, urlListSetting, urlSetting } from "../../config.js";
import type { BrokerModule } from "../broker.js";
import { createRabbitmqSources } from "./plan.js";

export const RABBITMQ_SOURCE_KINDS = ["auto", "prometheus", "management", "amqp"] as const;

export const rabbitmqSettings = {
  RABBITMQ_URL: urlSetting(["amqp", "amqps"])
    .optional()
    .describe(
      "AMQP URL (amqp://user:pass@host:5672/vhost). Used by the amqp source with RABBITMQ_QUEUES; its credentials are the default for RABBITMQ_MANAGEMENT_URL.",
    ),
  RABBITMQ_MANAGEMENT_URL: urlSetting(["http", "https"])
    .optional()
    .describe(
      "Management API base URL (http://user:pass@host:15672). Credentials default to those of RABBITMQ_URL. Never derived from RABBITMQ_URL.",
    ),
  RABBITMQ_PROMETHEUS_URL: urlListSetting(["http", "https"])
    .optional()
    .describe("rabbitmq_prometheus endpoint(s) (http://host:15692), comma-separated: one per node when clustered."),
  RABBITMQ_SOURCE: z
    .enum(RABBITMQ_SOURCE_KINDS, { message: `must be one of ${RABBITMQ_SOURCE_KINDS.join(", ")}` })
    .default("auto")
    .describe(
      "How to read depths: prometheus, management, amqp, or auto (the first of prometheus, management, amqp that answers, among those configured). Default auto.",
    ),
  RABBITMQ_QUEUES: listSetting()
    .optional()
    .describe("Comma-separated queue names for the amqp source (in the vhost of RABBITMQ_URL)."),
  RABBITMQ_VHOSTS: listSetting().optional().describe("Comma-separated vhosts to read (default: all the user can see)."),
};

export const rabbitmqModule: BrokerModule<typeof rabbitmqSettings> = {
  broker: "rabbitmq",
  settings: rabbitmqSettings,
  isConfigured: (settings) =>
    settings.RABBITMQ_URL !== undefined ||
    settings.RABBITMQ_MANAGEMENT_URL !== undefined ||
    settings.RABBITMQ_PROMETHEUS_URL !== undefined,
  createSources: (settings, context) => createRabbitmqSources(settings, context),
};
