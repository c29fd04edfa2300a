import { z } from "zod";
import { ConfigError } from "../../../config.js";
import { pickSettings } from "../../adapter.js";
import { rabbitmqSettings } from "../settings.js";

export const rabbitmqWorkerSettings = {
  ...pickSettings(rabbitmqSettings, ["RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL"]),
  QUEUE: z.string().optional().describe("RabbitMQ queue to consume. Required when BROKER=rabbitmq."),
};

export type RabbitMqWorkerSettings = z.infer<z.ZodObject<typeof rabbitmqWorkerSettings>>;

/** The consumer's queue and URL, from the settings; ConfigError for a missing one. */
export function rabbitmqTarget(settings: RabbitMqWorkerSettings): { url: string; queue: string } {
  if (!settings.RABBITMQ_URL) throw new ConfigError("RABBITMQ_URL", "required when BROKER=rabbitmq");
  if (!settings.QUEUE) throw new ConfigError("QUEUE", "required when BROKER=rabbitmq");
  return { url: settings.RABBITMQ_URL, queue: settings.QUEUE };
}
