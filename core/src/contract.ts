/**
 * The metric contract: the one place that says which series queuescale publishes.
 *
 * The exporter and the worker render these families; the Prometheus Adapter rules, the alerts and
 * the Grafana dashboard query them; the README documents them. Tests compare each of those with
 * this module, so a rename here that is not carried everywhere fails the build.
 */

import type { BrokerAdapter } from "./brokers/adapter.js";
import { BROKER_ADAPTERS } from "./brokers/index.js";

type Adapter = (typeof BROKER_ADAPTERS)[number];

/** Brokers queuescale knows (the adapter list). The value is what the `broker` label carries. */
export type BrokerName = Adapter["name"];
export const BROKERS: readonly BrokerName[] = BROKER_ADAPTERS.map((adapter) => adapter.name);

/**
 * Labels that identify one unit of work per broker, besides `broker` itself, from the adapters.
 * RabbitMQ: a queue in a vhost. JetStream: a durable consumer of a stream.
 */
export const IDENTITY_LABELS = Object.fromEntries(
  BROKER_ADAPTERS.map((adapter) => [adapter.name, adapter.identityLabels]),
) as { readonly [A in Adapter as A["name"]]: A["identityLabels"] };

/** `broker` plus every identity label of the given adapters, each once, in adapter order. */
export function depthLabels(adapters: readonly BrokerAdapter[] = BROKER_ADAPTERS): readonly string[] {
  return ["broker", ...new Set(adapters.flatMap((adapter) => adapter.identityLabels))];
}

/**
 * Labels Prometheus (target labels) or Prometheus Adapter (`namespace` → Kubernetes namespace)
 * give a meaning of their own. An exported label with one of these names would be renamed to
 * `exported_*` or, worse, break the adapter's namespace mapping.
 */
export const RESERVED_LABELS = ["namespace", "pod", "service", "job", "instance", "container"] as const;

/** Fields of one queue/consumer reading, each published as its own gauge family. */
export type DepthField = "depth" | "ready" | "unacked" | "consumers" | "redelivered" | "oldestMessageAgeSeconds";

export interface MetricSpec {
  readonly name: string;
  readonly type: "gauge" | "counter" | "histogram";
  readonly help: string;
  /** Label names, in the order they are documented. */
  readonly labels: readonly string[];
}

/** Label set of the depth families: `broker` plus every broker's identity labels. */
const DEPTH_LABELS = depthLabels();

export const DEPTH_METRICS: Readonly<Record<DepthField, MetricSpec>> = {
  depth: {
    name: "queuescale_queue_depth",
    type: "gauge",
    help: "Work not yet finished: messages ready plus messages delivered and not yet acknowledged. The series the HPA scales on.",
    labels: DEPTH_LABELS,
  },
  ready: {
    name: "queuescale_queue_ready_messages",
    type: "gauge",
    help: "Messages waiting to be delivered to a consumer.",
    labels: DEPTH_LABELS,
  },
  unacked: {
    name: "queuescale_queue_unacked_messages",
    type: "gauge",
    help: "Messages delivered to a consumer and not yet acknowledged.",
    labels: DEPTH_LABELS,
  },
  consumers: {
    name: "queuescale_queue_consumers",
    type: "gauge",
    help: "Consumers attached (RabbitMQ consumers; JetStream waiting pull requests, or 1 for a bound push consumer).",
    labels: DEPTH_LABELS,
  },
  redelivered: {
    name: "queuescale_queue_redelivered_messages",
    type: "gauge",
    help: "Messages delivered more than once and not yet acknowledged (JetStream num_redelivered).",
    labels: DEPTH_LABELS,
  },
  oldestMessageAgeSeconds: {
    name: "queuescale_queue_oldest_message_age_seconds",
    type: "gauge",
    help: "Age of the oldest unfinished message, where the broker lets it be known.",
    labels: DEPTH_LABELS,
  },
};

const SOURCE_LABELS = ["broker", "source"] as const;

export const SOURCE_METRICS = {
  up: {
    name: "queuescale_source_up",
    type: "gauge",
    help: "1 when the last poll of the depth source succeeded, 0 when it failed (its depth series are then absent).",
    labels: SOURCE_LABELS,
  },
  pollDuration: {
    name: "queuescale_source_poll_duration_seconds",
    type: "histogram",
    help: "Time taken by one poll of a depth source, successful or not.",
    labels: SOURCE_LABELS,
  },
  pollErrors: {
    name: "queuescale_source_poll_errors_total",
    type: "counter",
    help: "Failed polls of a depth source, by reason.",
    labels: [...SOURCE_LABELS, "reason"],
  },
  lastSuccess: {
    name: "queuescale_source_last_success_timestamp_seconds",
    type: "gauge",
    help: "Unix time of the last successful poll of a depth source.",
    labels: SOURCE_LABELS,
  },
} as const satisfies Record<string, MetricSpec>;

/** Reasons a poll can fail; the `reason` label of queuescale_source_poll_errors_total. */
export const POLL_ERROR_REASONS = [
  "timeout",
  "connection",
  "auth",
  "not_found",
  "http_status",
  "parse",
  "too_large",
  "unknown",
] as const;
export type PollErrorReason = (typeof POLL_ERROR_REASONS)[number];

/** The exporter's KEDA external scaler service (SCALER_LISTEN_ADDRESS), registered when it is on. */
export const SCALER_METRICS = {
  requests: {
    name: "queuescale_scaler_requests_total",
    type: "counter",
    help: "Calls of the external scaler gRPC service, by method and gRPC status code name (a stream counts when it ends).",
    labels: ["method", "code"],
  },
  openStreams: {
    name: "queuescale_scaler_open_streams",
    type: "gauge",
    help: "StreamIsActive streams open now (KEDA keeps one per ScaledObject with an external-push trigger).",
    labels: [],
  },
} as const satisfies Record<string, MetricSpec>;

/** Every metric family the exporter publishes (besides prom-client's process metrics). */
export const EXPORTER_METRICS: readonly MetricSpec[] = [
  ...Object.values(DEPTH_METRICS),
  ...Object.values(SOURCE_METRICS),
  ...Object.values(SCALER_METRICS),
];
