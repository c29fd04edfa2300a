import type { JsMsg } from "@nats-io/jetstream";
import { decodeJson, type WorkerMessage } from "../message.js";

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

/** Where dead letters of a consumer go unless configured otherwise. */
export function defaultDeadLetterSubject(stream: string, consumer: string): string {
  return `queuescale.dead.${stream}.${consumer}`;
}

export function defaultDeadLetterStream(stream: string): string {
  return `${stream}_DEAD`;
}

/** A JetStream message as handlers see it. */
export class NatsMessage implements WorkerMessage {
  private headerCache: Record<string, string> | undefined;
  private bodyCache: Buffer | undefined;

  constructor(private readonly raw: JsMsg) {}

  get body(): Buffer {
    // A view over the received bytes, not a copy.
    this.bodyCache ??= Buffer.from(this.raw.data.buffer, this.raw.data.byteOffset, this.raw.data.byteLength);
    return this.bodyCache;
  }

  /** JetStream counts every delivery, retries and redeliveries after a crash alike. */
  get attempt(): number {
    return this.raw.info.deliveryCount;
  }

  get id(): string {
    const published = this.raw.headers?.get("Nats-Msg-Id");
    return published ? published : `${this.raw.info.stream}:${this.raw.seq}`;
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
