import { ConfigError } from "../../config.js";
import type { Logger } from "pino";
import type { SourceContext } from "../adapter.js";
import { NameFilter } from "../../sources/filter.js";
import type { DepthSource } from "../../sources/types.js";
import { AmqpConnection, AmqpQueueSource } from "./amqp.js";
import { credentialsOfUrl, vhostOfAmqpUrl } from "./amqp-reading.js";
import { AutoSource, type Candidate } from "./auto.js";
import { ManagementSource } from "./management.js";
import { PrometheusSource } from "./prometheus.js";
import type { QueueSelection } from "./readings.js";

export type RabbitmqSourceKind = "auto" | "prometheus" | "management" | "amqp";

/** The parsed RabbitMQ settings (see index.ts for their meaning). */
export interface RabbitmqSettings {
  RABBITMQ_URL?: string;
  RABBITMQ_MANAGEMENT_URL?: string;
  RABBITMQ_PROMETHEUS_URL?: string[];
  RABBITMQ_SOURCE: RabbitmqSourceKind;
  RABBITMQ_QUEUES?: string[];
  RABBITMQ_VHOSTS?: string[];
}

type ConcreteKind = Exclude<RabbitmqSourceKind, "auto">;

interface KindPlan {
  /** Why the kind cannot run with these settings, as [setting, message]; undefined when it can. */
  missing(settings: RabbitmqSettings): [string, string] | undefined;
  /** Its sources; called only when `missing` says nothing is. */
  build(settings: RabbitmqSettings, context: SourceContext): DepthSource[];
}

function selectionOf(settings: RabbitmqSettings, context: SourceContext): QueueSelection {
  return { filter: context.filter, vhosts: settings.RABBITMQ_VHOSTS };
}

/** One entry per source kind: what it needs and how it is built. */
const KINDS: Readonly<Record<ConcreteKind, KindPlan>> = {
  prometheus: {
    missing: (settings) =>
      settings.RABBITMQ_PROMETHEUS_URL ? undefined : ["RABBITMQ_PROMETHEUS_URL", "required by the prometheus source"],
    build: (settings, context) => {
      const urls = settings.RABBITMQ_PROMETHEUS_URL!;
      const selection = selectionOf(settings, context);
      return urls.map(
        (url) =>
          new PrometheusSource(url, selection, urls.length === 1 ? "prometheus" : undefined, context.maxResponseBytes),
      );
    },
  },
  management: {
    missing: (settings) =>
      settings.RABBITMQ_MANAGEMENT_URL
        ? undefined
        : ["RABBITMQ_MANAGEMENT_URL", "required by the management source (it is not derived from RABBITMQ_URL)"],
    build: (settings, context) => [
      new ManagementSource({
        url: settings.RABBITMQ_MANAGEMENT_URL!,
        fallbackCredentials: credentialsOfUrl(settings.RABBITMQ_URL),
        selection: selectionOf(settings, context),
        logger: context.logger,
        maxResponseBytes: context.maxResponseBytes,
      }),
    ],
  },
  amqp: {
    missing: (settings) => {
      if (!settings.RABBITMQ_URL) return ["RABBITMQ_URL", "required by the amqp source"];
      if (!settings.RABBITMQ_QUEUES?.length) {
        return ["RABBITMQ_QUEUES", "required by the amqp source (AMQP cannot list queues)"];
      }
      const vhost = vhostOfAmqpUrl(settings.RABBITMQ_URL);
      if (settings.RABBITMQ_VHOSTS && !settings.RABBITMQ_VHOSTS.includes(vhost)) {
        return ["RABBITMQ_VHOSTS", "the amqp source reads only the vhost of RABBITMQ_URL, which is not listed"];
      }
      return undefined;
    },
    build: (settings, context) => {
      const connection = new AmqpConnection(settings.RABBITMQ_URL!, context.logger);
      // The queues are named explicitly; QUEUE_INCLUDE/QUEUE_EXCLUDE still apply, for consistency.
      const queues = settings.RABBITMQ_QUEUES!.filter((queue) => context.filter.keeps(queue));
      if (queues.length === 0) {
        throw new ConfigError("RABBITMQ_QUEUES", "QUEUE_INCLUDE/QUEUE_EXCLUDE leave none of the listed queues");
      }
      return queues.map((queue) => new AmqpQueueSource(connection, queue));
    },
  },
};

const AUTO_ORDER: readonly ConcreteKind[] = ["prometheus", "management", "amqp"];

/**
 * Builds the RabbitMQ sources. Explicit kinds must have their settings; `auto` considers only the
 * kinds whose addresses are set (no host or port is guessed) and, when that is one kind, simply is
 * that kind.
 */
export function createRabbitmqSources(settings: RabbitmqSettings, context: SourceContext): DepthSource[] {
  const kind = settings.RABBITMQ_SOURCE;
  if (kind !== "auto") {
    const missing = KINDS[kind].missing(settings);
    if (missing) throw new ConfigError(missing[0], missing[1]);
    return KINDS[kind].build(settings, context);
  }
  const usable = AUTO_ORDER.filter((candidate) => KINDS[candidate].missing(settings) === undefined);
  if (usable.length === 0) {
    // Only RABBITMQ_URL is set (else isConfigured would be false): amqp is what is left.
    const missing = KINDS.amqp.missing(settings)!;
    throw new ConfigError(
      missing[0],
      `${missing[1]}; or set RABBITMQ_PROMETHEUS_URL or RABBITMQ_MANAGEMENT_URL for RABBITMQ_SOURCE=auto`,
    );
  }
  if (usable.length === 1) return KINDS[usable[0]!].build(settings, context);
  const candidates: Candidate[] = usable.map((candidate) => ({
    kind: candidate,
    sources: KINDS[candidate].build(settings, context),
  }));
  return [new AutoSource(candidates, context.logger)];
}

/**
 * The sources of one queue, for a worker's own depth gauges: the management API when its URL is
 * given (it knows unacknowledged messages too), else a passive declare over AMQP.
 */
export function queueDepthSources(
  target: { url: string; managementUrl?: string; queue: string },
  logger: Logger,
): DepthSource[] {
  return createRabbitmqSources(
    {
      RABBITMQ_URL: target.url,
      RABBITMQ_MANAGEMENT_URL: target.managementUrl,
      RABBITMQ_SOURCE: target.managementUrl === undefined ? "amqp" : "management",
      RABBITMQ_QUEUES: [target.queue],
      RABBITMQ_VHOSTS: [vhostOfAmqpUrl(target.url)],
    },
    { filter: NameFilter.exactly([target.queue]), logger },
  );
}

/** The management API source of the vhost of `url`, for the producer's queue list. */
export function vhostDepthSources(target: { url: string; managementUrl: string }, logger: Logger): DepthSource[] {
  const selection = { filter: NameFilter.all(), vhosts: [vhostOfAmqpUrl(target.url)] };
  return [
    new ManagementSource({
      url: target.managementUrl,
      fallbackCredentials: credentialsOfUrl(target.url),
      selection,
      logger,
    }),
  ];
}
