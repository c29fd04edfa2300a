import type { NameFilter } from "../../sources/filter.js";
import type { QueueReading } from "../../sources/types.js";

/**
 * What queuescale needs of a JetStream consumer. Both the JetStream API (`ConsumerInfo`) and the
 * monitoring endpoint (`/jsz` consumer_detail, with `config=true`) report these fields under the
 * same names, so one mapping serves both sources.
 */
export interface ConsumerState {
  readonly stream_name: string;
  readonly name: string;
  /** Creation time; tells a re-created consumer of the same name apart. */
  readonly created?: string;
  readonly config?: {
    readonly durable_name?: string;
    readonly filter_subject?: string;
    /** Servers ≥ 2.10 only. */
    readonly filter_subjects?: readonly string[];
    readonly deliver_subject?: string;
  };
  /** Everything up to and including `stream_seq` is acknowledged. */
  readonly ack_floor: { readonly stream_seq: number };
  readonly num_pending: number;
  readonly num_ack_pending: number;
  readonly num_redelivered: number;
  readonly num_waiting: number;
  /** Set (true) on a push consumer while a subscription listens on its deliver subject. */
  readonly push_bound?: boolean;
  /** Absent on a server that is not clustered. */
  readonly cluster?: { readonly leader?: string };
}

const isNumber = (value: unknown): value is number => typeof value === "number";
const isOptional = (value: unknown, type: "string" | "boolean" | "object") =>
  value === undefined || (typeof value === type && value !== null);

/**
 * Checks a consumer entry (a `/jsz` consumer_detail, a ConsumerInfo of the JetStream API) for the
 * fields the mapping reads, without copying it. Written out rather than a zod schema because it
 * runs for every consumer on every poll, and a schema's per-object cost is what a poll of
 * thousands of consumers would spend most of its time on.
 */
export function isConsumerState(value: unknown): value is ConsumerState {
  if (typeof value !== "object" || value === null) return false;
  const detail = value as Record<string, unknown>;
  const config = detail.config as Record<string, unknown> | undefined;
  const ackFloor = detail.ack_floor as Record<string, unknown> | undefined;
  const cluster = detail.cluster as Record<string, unknown> | undefined;
  return (
    typeof detail.stream_name === "string" &&
    typeof detail.name === "string" &&
    isOptional(detail.created, "string") &&
    isNumber(detail.num_pending) &&
    isNumber(detail.num_ack_pending) &&
    isNumber(detail.num_redelivered) &&
    isNumber(detail.num_waiting) &&
    typeof ackFloor === "object" &&
    ackFloor !== null &&
    isNumber(ackFloor.stream_seq) &&
    isOptional(detail.push_bound, "boolean") &&
    isOptional(config, "object") &&
    (config === undefined ||
      (isOptional(config.durable_name, "string") &&
        isOptional(config.filter_subject, "string") &&
        (config.filter_subjects === undefined || Array.isArray(config.filter_subjects)))) &&
    isOptional(cluster, "object") &&
    (cluster === undefined || isOptional(cluster.leader, "string"))
  );
}

/**
 * The fields of a checked consumer entry that queuescale reads, copied out of the parsed answer so
 * that the rest of it (timestamps, delivery state, most of the config) is garbage at once instead
 * of being kept, and copied by the garbage collector, until the poll ends.
 */
export function compactConsumer(consumer: ConsumerState): ConsumerState {
  const { config, cluster } = consumer;
  return {
    stream_name: consumer.stream_name,
    name: consumer.name,
    created: consumer.created,
    config: config && {
      durable_name: config.durable_name,
      filter_subject: config.filter_subject,
      filter_subjects: config.filter_subjects,
      deliver_subject: config.deliver_subject,
    },
    ack_floor: { stream_seq: consumer.ack_floor.stream_seq },
    num_pending: consumer.num_pending,
    num_ack_pending: consumer.num_ack_pending,
    num_redelivered: consumer.num_redelivered,
    num_waiting: consumer.num_waiting,
    push_bound: consumer.push_bound,
    cluster: cluster && { leader: cluster.leader },
  };
}

/**
 * Only durable consumers are exported. An ephemeral consumer belongs to one client instance, has a
 * generated name that changes with every restart and vanishes with its client: nothing can point
 * an HPA at it, and its series would only churn.
 */
export function isDurable(consumer: ConsumerState): boolean {
  return typeof consumer.config?.durable_name === "string" && consumer.config.durable_name.length > 0;
}

/** Durable consumers whose stream or consumer name the filter keeps. */
export function exportedConsumers<C extends ConsumerState>(
  consumers: Iterable<C>,
  filter: NameFilter,
  durable: (consumer: C) => boolean = isDurable,
): C[] {
  const kept: C[] = [];
  for (const consumer of consumers) {
    if (durable(consumer) && filter.keeps(consumer.stream_name, consumer.name)) kept.push(consumer);
  }
  return kept;
}

/** Messages the consumer still has to finish: not yet delivered plus delivered and not acked. */
export function consumerDepth(consumer: ConsumerState): number {
  return consumer.num_pending + consumer.num_ack_pending;
}

/**
 * Who is attached. A pull consumer's workers show as waiting pull requests (`num_waiting`); a
 * push consumer has no pull requests, only a subscription on its deliver subject or none
 * (`push_bound`), so it counts 1 or 0. `push_bound` is never set on a pull consumer, which is why
 * this needs no config to tell the two apart.
 */
export function attachedConsumers(consumer: ConsumerState): number {
  return consumer.push_bound === true ? 1 : consumer.num_waiting;
}

export function consumerReading(consumer: ConsumerState, oldestMessageAgeSeconds?: number): QueueReading {
  return {
    broker: "nats",
    labels: { stream: consumer.stream_name, consumer: consumer.name },
    depth: consumerDepth(consumer),
    ready: consumer.num_pending,
    unacked: consumer.num_ack_pending,
    consumers: attachedConsumers(consumer),
    redelivered: consumer.num_redelivered,
    ...(oldestMessageAgeSeconds === undefined ? {} : { oldestMessageAgeSeconds }),
  };
}

/**
 * Where the consumer's oldest unfinished message is: the first message after the ack floor that
 * the consumer's filter matches. Everything at or below the floor is acknowledged, so that
 * message is either awaiting its ack or not delivered yet, and it is the oldest such message.
 * One look-up per filter subject (servers ≥ 2.10 allow several); the earliest answer wins.
 */
export function firstUnfinishedLookups(consumer: ConsumerState): { seq: number; next_by_subj: string }[] {
  const seq = consumer.ack_floor.stream_seq + 1;
  const filters = consumer.config?.filter_subjects?.length
    ? consumer.config.filter_subjects
    : consumer.config?.filter_subject
      ? [consumer.config.filter_subject]
      : [">"];
  return filters.map((subject) => ({ seq, next_by_subj: subject }));
}

/** Seconds between a message's store time and now, never negative (clocks of server and exporter differ). */
export function ageSeconds(storedAtMs: number, nowMs: number): number {
  return Math.max(0, (nowMs - storedAtMs) / 1000);
}

/**
 * Identifies where the oldest unfinished message of a consumer was looked up: while the consumer
 * (same creation), its filter and its ack floor stay the same, the first matching message after
 * the floor is the same message, unless the stream dropped it (see JetStreamSource).
 */
export function oldestLookupKey(consumer: ConsumerState): string {
  const filters = firstUnfinishedLookups(consumer).map((lookup) => lookup.next_by_subj);
  return JSON.stringify([
    consumer.stream_name,
    consumer.name,
    consumer.created ?? "",
    consumer.ack_floor.stream_seq,
    filters,
  ]);
}
