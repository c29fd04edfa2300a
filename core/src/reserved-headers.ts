/**
 * Message header names a publisher must not set: names a broker interprets (and can reject a
 * message, or close the channel, for) and the bookkeeping the worker keeps on the messages it
 * retries and dead-letters. A publisher that could set them would steer routing, or make the
 * worker count attempts that never ran. Names are compared without regard to case: NATS headers
 * are case-insensitive, and refusing `cc` with `CC` costs a publisher nothing.
 */

interface ReservedRule {
  /** Lower-case exact name, or a lower-case prefix when `prefix` is set. */
  readonly name: string;
  readonly prefix?: boolean;
  readonly why: string;
}

const RESERVED: readonly ReservedRule[] = [
  // RabbitMQ sender-selected distribution: it routes by these, and closes the channel when their
  // value is not an array (`unacceptable_type_in_header`).
  { name: "cc", why: "RabbitMQ routes by it (sender-selected distribution)" },
  { name: "bcc", why: "RabbitMQ routes by it (sender-selected distribution)" },
  // RabbitMQ dead-lettering history and quorum-queue delivery counting.
  { name: "x-death", why: "RabbitMQ keeps its dead-letter history in it" },
  { name: "x-first-death-", prefix: true, why: "RabbitMQ keeps its dead-letter history in it" },
  { name: "x-last-death-", prefix: true, why: "RabbitMQ keeps its dead-letter history in it" },
  { name: "x-delivery-count", why: "RabbitMQ and the worker count deliveries in it" },
  // Headers plugins and federation interpret.
  { name: "x-received-from", why: "RabbitMQ federation and shovels interpret it" },
  { name: "x-delay", why: "the RabbitMQ delayed-message exchange interprets it" },
  { name: "x-deduplication-header", why: "the RabbitMQ deduplication plugin interprets it" },
  { name: "x-stream-", prefix: true, why: "RabbitMQ streams interpret it" },
  { name: "x-opt-", prefix: true, why: "RabbitMQ maps AMQP 1.0 annotations to it" },
  // The worker's own bookkeeping (RabbitMQ x-queuescale-*, NATS Queuescale-*).
  { name: "x-queuescale-", prefix: true, why: "the worker keeps its retry bookkeeping in it" },
  { name: "queuescale-", prefix: true, why: "the worker keeps its dead-letter bookkeeping in it" },
  // JetStream: dedupe ids, expectations, rollups; the producer sets the ones it needs itself.
  { name: "nats-", prefix: true, why: "NATS JetStream interprets it; the producer sets the Nats-* headers it needs" },
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
