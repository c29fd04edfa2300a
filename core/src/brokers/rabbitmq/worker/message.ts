import type { ConsumeMessage, MessageProperties, Options } from "amqplib";
import { deadQueueName, retryQueueName } from "../topology.js";
import { decodeJson, type WorkerMessage } from "../../../consumer/message.js";
import { contentId, headerText } from "../../../consumer/headers.js";

/** Headers the worker sets on the copies it publishes. */
export const RETRIES_HEADER = "x-queuescale-retries";
export const LAST_ERROR_HEADER = "x-queuescale-last-error";
export const REASON_HEADER = "x-queuescale-reason";
export const ATTEMPTS_HEADER = "x-queuescale-attempts";
export const ORIGIN_HEADER = "x-queuescale-queue";
export const DEAD_AT_HEADER = "x-queuescale-dead-lettered-at";
/**
 * When the producer published the message (ISO 8601, milliseconds). AMQP's own `timestamp`
 * property has whole seconds only, too coarse for waits of a few seconds. Publishers cannot set
 * it through the producer (x-queuescale-* is reserved), so the worker can believe it.
 */
export const PUBLISHED_AT_HEADER = "x-queuescale-published-at";

/** The published-at header as Unix milliseconds, or undefined when absent or unreadable. */
export function publishedAtOf(headers: MessageProperties["headers"]): number | undefined {
  const value = headers?.[PUBLISHED_AT_HEADER] as unknown;
  if (value === undefined) return undefined;
  const ms = Date.parse(headerText(value));
  return Number.isFinite(ms) ? ms : undefined;
}

// The topology's names live in core, where the producer reads them to refuse publishing there.
export { deadQueueName, retryQueueName };

/**
 * What the worker knows of its queue's type: quorum queues count redeliveries (`x-delivery-count`,
 * set by the broker on every delivery), classic queues do not. `unknown`: a queue the worker did not
 * declare and could not identify.
 */
export type QueueKind = "quorum" | "classic" | "unknown";

/** Whether the message came back from `<queue>.retry` at least once, as RabbitMQ records in `x-death`. */
function cameFromRetryQueue(headers: MessageProperties["headers"], queue: string): boolean {
  const deaths = headers?.["x-death"] as unknown;
  if (!Array.isArray(deaths)) return false;
  const retryQueue = retryQueueName(queue);
  return deaths.some(
    (death: unknown) =>
      typeof death === "object" && death !== null && headerText((death as { queue?: unknown }).queue) === retryQueue,
  );
}

/**
 * Retries the worker scheduled before, from its own header. Only believed on a message that went
 * through the retry queue: a publisher setting the header on a fresh message does not make the worker
 * dead-letter it before it ever ran.
 */
export function retriesOf(headers: MessageProperties["headers"], queue: string): number {
  if (!cameFromRetryQueue(headers, queue)) return 0;
  const value = Number(headerText(headers?.[RETRIES_HEADER] ?? 0));
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/**
 * Redeliveries the broker counted. A quorum queue sets `x-delivery-count` on each redelivery
 * (overwriting whatever a publisher put there) but passes a publisher's value through on the first
 * delivery; a classic queue never sets it. So the header is believed only on a redelivery, and never
 * from a queue known to be classic.
 */
function redeliveriesOf(raw: Pick<ConsumeMessage, "fields" | "properties">, kind: QueueKind): number {
  if (kind === "classic" || !raw.fields.redelivered) return 0;
  const count = Number(headerText(raw.properties.headers?.["x-delivery-count"] ?? 0));
  return Number.isInteger(count) && count > 0 ? count : 0;
}

/** The delivery attempt: 1 + retries the worker scheduled + redeliveries the broker counted. */
export function attemptOf(raw: Pick<ConsumeMessage, "fields" | "properties">, queue: string, kind: QueueKind): number {
  return 1 + retriesOf(raw.properties.headers, queue) + redeliveriesOf(raw, kind);
}

/** A consumed AMQP message as handlers see it. Headers and id are worked out on first use. */
export class RabbitMqMessage implements WorkerMessage {
  readonly attempt: number;
  private headerCache: Record<string, string> | undefined;

  constructor(
    private readonly raw: ConsumeMessage,
    queue: string,
    kind: QueueKind,
  ) {
    this.attempt = attemptOf(raw, queue, kind);
  }

  get body(): Buffer {
    return this.raw.content;
  }

  get publishedAtMs(): number | undefined {
    return publishedAtOf(this.raw.properties.headers);
  }

  get id(): string {
    const messageId = this.raw.properties.messageId as unknown;
    return typeof messageId === "string" && messageId !== "" ? messageId : contentId(this.raw.content);
  }

  get headers(): Readonly<Record<string, string>> {
    if (!this.headerCache) {
      const texts: Record<string, string> = {};
      for (const [name, value] of Object.entries(this.raw.properties.headers ?? {})) texts[name] = headerText(value);
      this.headerCache = texts;
    }
    return this.headerCache;
  }

  json<T = unknown>(): T {
    return decodeJson<T>(this.raw.content);
  }
}

/**
 * Properties for a copy of a consumed message (retry or dead letter): everything the publisher set
 * except `expiration` (the copy has its own) and `userId` (RabbitMQ rejects one that is not the
 * publishing user's), persistent, with extra headers.
 */
export function copyProperties(raw: ConsumeMessage, extraHeaders: Record<string, unknown>): Options.Publish {
  const { properties } = raw;
  const copy: Options.Publish = {
    persistent: true,
    headers: { ...(properties.headers ?? {}), ...extraHeaders },
  };
  if (properties.contentType !== undefined) copy.contentType = properties.contentType as string;
  if (properties.contentEncoding !== undefined) copy.contentEncoding = properties.contentEncoding as string;
  if (properties.priority !== undefined) copy.priority = properties.priority as number;
  if (properties.correlationId !== undefined) copy.correlationId = properties.correlationId as string;
  if (properties.replyTo !== undefined) copy.replyTo = properties.replyTo as string;
  if (properties.messageId !== undefined) copy.messageId = properties.messageId as string;
  if (properties.timestamp !== undefined) copy.timestamp = properties.timestamp as number;
  if (properties.type !== undefined) copy.type = properties.type as string;
  if (properties.appId !== undefined) copy.appId = properties.appId as string;
  return copy;
}
