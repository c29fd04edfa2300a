import type { ReservedHeaderRule } from "../../reserved-headers.js";

/** JetStream interprets Nats-* headers: dedupe ids, expectations, rollups, scheduling. */
export const NATS_RESERVED_HEADERS: readonly ReservedHeaderRule[] = [
  { name: "nats-", prefix: true, why: "NATS JetStream interprets it; the producer sets the Nats-* headers it needs" },
];
