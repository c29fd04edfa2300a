import { z } from "zod";
import type { NameFilter } from "../filter.js";
import { SourceError, type QueueReading } from "../types.js";
import { consumerReading, exportedConsumers, type ConsumerState } from "./consumer.js";

/**
 * The monitoring endpoint's query. On 2.9 `consumers=true` already implies streams and accounts,
 * but newer servers are explicit about it; `config=true` adds the consumer config, without which
 * a durable consumer cannot be told from an ephemeral one.
 */
export const JSZ_PATH = "/jsz?accounts=true&streams=true&consumers=true&config=true";

const consumerDetail = z.object({
  stream_name: z.string(),
  name: z.string(),
  config: z
    .object({
      durable_name: z.string().optional(),
      filter_subject: z.string().optional(),
      filter_subjects: z.array(z.string()).optional(),
      deliver_subject: z.string().optional(),
    })
    .optional(),
  ack_floor: z.object({ stream_seq: z.number() }),
  num_pending: z.number(),
  num_ack_pending: z.number(),
  num_redelivered: z.number(),
  num_waiting: z.number(),
  push_bound: z.boolean().optional(),
  cluster: z.object({ leader: z.string().optional() }).optional(),
});

const jszResponse = z.object({
  // Servers newer than 2.9 name themselves here; 2.9 only in /varz.
  server_name: z.string().optional(),
  account_details: z
    .array(
      z.object({
        stream_detail: z.array(z.object({ consumer_detail: z.array(consumerDetail).nullish() })).nullish(),
      }),
    )
    .nullish(),
});

export interface JszReport {
  readonly serverName: string | undefined;
  readonly consumers: readonly ConsumerState[];
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new SourceError("parse", `${what} is not JSON`, { cause: error });
  }
}

/** Every consumer a `/jsz` answer lists, over all accounts and streams. */
export function parseJsz(body: string): JszReport {
  const parsed = jszResponse.safeParse(parseJson(body, "/jsz answer"));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceError("parse", `unexpected /jsz answer at ${issue?.path.join(".") ?? "top level"}`);
  }
  const consumers: ConsumerState[] = [];
  for (const account of parsed.data.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) consumers.push(...(stream.consumer_detail ?? []));
  }
  return { serverName: parsed.data.server_name, consumers };
}

/** `server_name` from a `/varz` answer. */
export function parseVarzServerName(body: string): string {
  const parsed = z.object({ server_name: z.string().min(1) }).safeParse(parseJson(body, "/varz answer"));
  if (!parsed.success) throw new SourceError("parse", "/varz answer has no server_name");
  return parsed.data.server_name;
}

/** True when some consumer is clustered, so the reporting server's name is needed to pick leaders. */
export function needsServerName(report: JszReport): boolean {
  return report.consumers.some((consumer) => consumer.cluster?.leader !== undefined);
}

/**
 * In a cluster every server reports every replica it holds, and a follower's numbers lag behind.
 * Only the leader's are taken: a consumer counts when its `cluster.leader` is the reporting
 * server. A consumer without cluster information comes from a server that is not clustered and
 * is its own leader. A consumer whose leader is being elected (no leader) is reported by nobody
 * until the election ends, rather than by a follower with stale numbers.
 */
export function jszReadings(report: JszReport, serverName: string | undefined, filter: NameFilter): QueueReading[] {
  const led = report.consumers.filter((consumer) =>
    consumer.cluster === undefined
      ? true
      : consumer.cluster.leader !== undefined && consumer.cluster.leader === serverName,
  );
  return exportedConsumers(led, filter).map((consumer) => consumerReading(consumer));
}
