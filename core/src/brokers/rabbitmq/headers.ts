import type { ReservedHeaderRule } from "../../reserved-headers.js";

/** Header names RabbitMQ or its plugins interpret. */
export const RABBITMQ_RESERVED_HEADERS: readonly ReservedHeaderRule[] = [
  // Sender-selected distribution: RabbitMQ routes by these, and closes the channel when their
  // value is not an array (`unacceptable_type_in_header`).
  { name: "cc", why: "RabbitMQ routes by it (sender-selected distribution)" },
  { name: "bcc", why: "RabbitMQ routes by it (sender-selected distribution)" },
  // Dead-lettering history and quorum-queue delivery counting.
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
];
