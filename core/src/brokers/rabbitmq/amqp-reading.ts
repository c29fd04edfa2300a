import type { PollErrorReason } from "../../contract.js";
import type { QueueReading } from "../../sources/types.js";

/** The vhost an AMQP URL names, as the broker sees it: no path (or `/`) is the default vhost `/`. */
export function vhostOfAmqpUrl(url: string): string {
  const path = new URL(url).pathname.slice(1);
  return path === "" ? "/" : decodeURIComponent(path);
}

/** User and password of a URL, decoded; undefined when it names no user. */
export function credentialsOfUrl(url: string | undefined): { username: string; password: string } | undefined {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  if (!parsed.username) return undefined;
  return { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
}

/** What `queue.declare` with `passive` answers (amqplib's checkQueue). */
export interface DeclareOk {
  queue: string;
  messageCount: number;
  consumerCount: number;
}

/**
 * A reading from a passive declare. declare-ok counts only messages ready for delivery (for
 * classic and quorum queues alike; checked on RabbitMQ 3.10): messages delivered and not yet
 * acknowledged are not visible over AMQP. So unacked is left unknown and depth is the ready count,
 * a lower bound of the work left.
 */
export function readingFromDeclareOk(vhost: string, reply: DeclareOk): QueueReading {
  return {
    broker: "rabbitmq",
    labels: { vhost, queue: reply.queue },
    depth: reply.messageCount,
    ready: reply.messageCount,
    consumers: reply.consumerCount,
  };
}

/**
 * The reason label for an AMQP failure: amqplib reports the server's reply code (404 NOT_FOUND,
 * 403 ACCESS_REFUSED, 530 NOT_ALLOWED for an unknown vhost) as a numeric `code`.
 */
export function amqpFailureReason(error: unknown): PollErrorReason | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : "";
  if (code === 404) return "not_found";
  if (code === 403 || /ACCESS[-_]REFUSED/.test(message)) return "auth";
  if (code === 530 || /NOT[-_]ALLOWED/.test(message)) return /not found/i.test(message) ? "not_found" : "auth";
  return undefined;
}
