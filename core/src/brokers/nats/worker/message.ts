import type { MsgHdrs } from "@nats-io/transport-node";
import { decodeJson, type WorkerMessage } from "../../../consumer/message.js";
import { asBuffer } from "../../../sources/body.js";
import type { PulledMessage } from "./pulled-message.js";

/** Headers the worker sets on dead letters. */
export const REASON_HEADER = "Queuescale-Reason";
export const ATTEMPTS_HEADER = "Queuescale-Attempts";
export const ORIGIN_STREAM_HEADER = "Queuescale-Stream";
export const ORIGIN_CONSUMER_HEADER = "Queuescale-Consumer";
export const ORIGIN_SUBJECT_HEADER = "Queuescale-Subject";
export const ORIGIN_SEQUENCE_HEADER = "Queuescale-Sequence";
export const DEAD_AT_HEADER = "Queuescale-Dead-Lettered-At";
/** The original's id (its Nats-Msg-Id is not copied: JetStream would drop the copy as a duplicate). */
export const MESSAGE_ID_HEADER = "Queuescale-Message-Id";
/** When the producer published the message (ISO 8601, milliseconds), as on RabbitMQ. */
export const PUBLISHED_AT_HEADER = "Queuescale-Published-At";

// Where dead letters go unless configured otherwise: in core, which the producer reads too.
export { defaultDeadLetterStream, defaultDeadLetterSubject } from "../topology.js";

/**
 * The advisory JetStream publishes when a message of the consumer reaches `max_deliver`. The server
 * then stops delivering the message but keeps it in the stream; nothing else says so.
 */
export function maxDeliveriesSubject(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

/** The work-queue stream DECLARE creates to keep those advisories until a worker has handled them. */
export function defaultExhaustedStream(deadLetterStream: string): string {
  return `${deadLetterStream}_EXHAUSTED`;
}

/** The durable consumer workers share to handle those advisories. */
export function exhaustedConsumerName(consumer: string): string {
  return `${consumer}_exhausted`;
}

/**
 * The Nats-Msg-Id of a dead letter: one per stored original, so that JetStream drops a second copy
 * of the same message (published again after a lost ack, or by two replicas handling the same
 * advisory) within the dead-letter stream's duplicate window.
 */
export function deadLetterMsgId(stream: string, consumer: string, seq: number): string {
  return `queuescale-dead:${stream}:${consumer}:${seq}`;
}

/** What the MAX_DELIVERIES advisory carries (io.nats.jetstream.advisory.v1.max_deliver). */
export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/** The advisory's fields, or undefined when the payload is not one. */
export function parseMaxDeliveriesAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { stream, consumer, stream_seq, deliveries } = parsed as Record<string, unknown>;
  if (typeof stream !== "string" || typeof consumer !== "string") return undefined;
  if (typeof stream_seq !== "number" || !Number.isSafeInteger(stream_seq) || stream_seq < 1) return undefined;
  return { stream, consumer, stream_seq, deliveries: typeof deliveries === "number" ? deliveries : 0 };
}

/** The publisher's Nats-Msg-Id, else `<stream>:<sequence>`. */
export function messageId(headers: MsgHdrs | undefined, stream: string, seq: number): string {
  const published = headers?.get("Nats-Msg-Id");
  return published ? published : `${stream}:${seq}`;
}

/** A JetStream message as handlers see it. */
export class NatsMessage implements WorkerMessage {
  private headerCache: Record<string, string> | undefined;
  private bodyCache: Buffer | undefined;

  constructor(private readonly raw: PulledMessage) {}

  get body(): Buffer {
    // A view over the received bytes, not a copy.
    this.bodyCache ??= asBuffer(this.raw.data);
    return this.bodyCache;
  }

  /**
   * The stream's store time: set by the server for every message, whoever published it (the
   * producer's Queuescale-Published-At header says nearly the same, on the producer's clock).
   */
  get publishedAtMs(): number {
    return this.raw.info.timestampNanos / 1e6;
  }

  /** JetStream counts every delivery, retries and redeliveries after a crash alike. */
  get attempt(): number {
    return this.raw.info.deliveryCount;
  }

  get id(): string {
    return messageId(this.raw.headers, this.raw.info.stream, this.raw.seq);
  }

  get headers(): Readonly<Record<string, string>> {
    if (!this.headerCache) {
      const texts: Record<string, string> = {};
      const headers = this.raw.headers;
      if (headers) for (const key of headers.keys()) texts[key] = headers.values(key).join(", ");
      this.headerCache = texts;
    }
    return this.headerCache;
  }

  json<T = unknown>(): T {
    return decodeJson<T>(this.body);
  }
}
