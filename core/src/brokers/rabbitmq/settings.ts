import { z } from "zod";
import { listSetting, urlListSetting, urlSetting } from "../../config.js";

export const RABBITMQ_SOURCE_KINDS = ["auto", "prometheus", "management", "amqp"] as const;

/** Every RabbitMQ setting; the exporter reads them all, the worker and the producer some. */
export const rabbitmqSettings = {
  RABBITMQ_URL: urlSetting(["amqp", "amqps"])
    .optional()
    .describe(
      "AMQP URL (amqp://user:pass@host:5672/vhost); its vhost is the one consumed, published to or read. Required by the worker and the producer with BROKER=rabbitmq; the exporter's amqp source reads RABBITMQ_QUEUES through it. Its credentials are the default for RABBITMQ_MANAGEMENT_URL.",
    ),
  RABBITMQ_MANAGEMENT_URL: urlSetting(["http", "https"])
    .optional()
    .describe(
      "Management API base URL (http://user:pass@host:15672). Credentials default to those of RABBITMQ_URL; never derived from RABBITMQ_URL. The worker reads its own depth from it when set; the producer lists queues (GET /v1/queues) with it.",
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
