/**
 * Message header names a publisher must not set: names a broker interprets (and can reject a
 * message, or close the channel, for) and the bookkeeping the worker keeps on the messages it
 * retries and dead-letters. A publisher that could set them would steer routing, or make the
 * worker count attempts that never ran. Names are compared without regard to case: NATS headers
 * are case-insensitive, and refusing `cc` with `CC` costs a publisher nothing.
 */

import { BROKER_ADAPTERS } from "./brokers/index.js";

export interface ReservedHeaderRule {
  /** Lower-case exact name, or a lower-case prefix when `prefix` is set. */
  readonly name: string;
  readonly prefix?: boolean;
  readonly why: string;
}

/**
 * Every broker's reserved names, then the worker's own bookkeeping (RabbitMQ x-queuescale-*,
 * NATS Queuescale-*). A name any broker reserves is refused whichever broker is in use: a queue
 * may be moved to another broker, its publishers stay.
 */
const RESERVED: readonly ReservedHeaderRule[] = [
  ...BROKER_ADAPTERS.flatMap((adapter) => adapter.reservedHeaders ?? []),
  { name: "x-queuescale-", prefix: true, why: "the worker keeps its retry bookkeeping in it" },
  { name: "queuescale-", prefix: true, why: "the worker keeps its dead-letter bookkeeping in it" },
];

/** Why a message header named `name` is reserved, or undefined when a publisher may set it. */
export function reservedHeader(name: string): string | undefined {
  const lower = name.toLowerCase();
  const rule = RESERVED.find((candidate) =>
    candidate.prefix ? lower.startsWith(candidate.name) : lower === candidate.name,
  );
  return rule?.why;
}

/** The reserved names as documentation shows them (a trailing `*` marks a prefix). */
export const RESERVED_HEADER_PATTERNS: readonly string[] = RESERVED.map((rule) =>
  rule.prefix ? `${rule.name}*` : rule.name,
);
