import { z } from "zod";
import { ConfigError, listSetting, secondsSetting } from "../../../config.js";
import { pickSettings } from "../../adapter.js";
import { natsSettings } from "../settings.js";
import { defaultDeadLetterStream, defaultDeadLetterSubject } from "./message.js";

export const natsWorkerSettings = {
  ...pickSettings(natsSettings, ["NATS_URL"]),
  STREAM: z.string().optional().describe("JetStream stream of the consumer. Required when BROKER=nats."),
  CONSUMER: z.string().optional().describe("Durable pull consumer to consume. Required when BROKER=nats."),
  SUBJECTS: listSetting()
    .optional()
    .describe("Comma-separated subjects of the stream, for DECLARE=true when the stream does not exist yet."),
  NATS_ACK_WAIT_SECONDS: secondsSetting(30, { min: 1, max: 86_400 }).describe(
    "ack_wait of a consumer DECLARE creates: how long a message may run before JetStream redelivers it. 1 to 86400. Default 30.",
  ),
  NATS_DEAD_LETTER_SUBJECT: z
    .string()
    .optional()
    .describe("Subject dead letters are published to. Default queuescale.dead.<STREAM>.<CONSUMER>."),
  NATS_DEAD_LETTER_STREAM: z
    .string()
    .optional()
    .describe("Stream DECLARE creates to keep dead letters. Default <STREAM>_DEAD."),
};

export type NatsWorkerSettings = z.infer<z.ZodObject<typeof natsWorkerSettings>>;

export interface NatsTarget {
  url: string;
  stream: string;
  consumer: string;
  subjects: string[] | undefined;
  ackWaitMs: number;
  deadLetterSubject: string;
  deadLetterStream: string;
}

/** The consumer's target, from the settings; ConfigError for a missing one. */
export function natsTarget(settings: NatsWorkerSettings): NatsTarget {
  if (!settings.NATS_URL) throw new ConfigError("NATS_URL", "required when BROKER=nats");
  if (!settings.STREAM) throw new ConfigError("STREAM", "required when BROKER=nats");
  if (!settings.CONSUMER) throw new ConfigError("CONSUMER", "required when BROKER=nats");
  return {
    url: settings.NATS_URL,
    stream: settings.STREAM,
    consumer: settings.CONSUMER,
    subjects: settings.SUBJECTS,
    ackWaitMs: settings.NATS_ACK_WAIT_SECONDS * 1000,
    deadLetterSubject:
      settings.NATS_DEAD_LETTER_SUBJECT ?? defaultDeadLetterSubject(settings.STREAM, settings.CONSUMER),
    deadLetterStream: settings.NATS_DEAD_LETTER_STREAM ?? defaultDeadLetterStream(settings.STREAM),
  };
}
