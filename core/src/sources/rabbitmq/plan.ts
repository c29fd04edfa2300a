import { ConfigError } from "../../config.js";
import type { SourceContext } from "../broker.js";
import type { DepthSource } from "../types.js";
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

/** Why a kind cannot run with these settings, as [setting, message]; undefined when it can. */
function missingFor(kind: ConcreteKind, settings: RabbitmqSettings): [string, string] | undefined {
  switch (kind) {
    case "prometheus":
      return settings.RABBITMQ_PROMETHEUS_URL
        ? undefined
        : ["RABBITMQ_PROMETHEUS_URL", "required by the prometheus source"];
    case "management":
      return settings.RABBITMQ_MANAGEMENT_URL
        ? undefined
        : ["RABBITMQ_MANAGEMENT_URL", "required by the management source (it is not derived from RABBITMQ_URL)"];
    case "amqp": {
      if (!settings.RABBITMQ_URL) return ["RABBITMQ_URL", "required by the amqp source"];
      if (!settings.RABBITMQ_QUEUES?.length) {
        return ["RABBITMQ_QUEUES", "required by the amqp source (AMQP cannot list queues)"];
      }
      const vhost = vhostOfAmqpUrl(settings.RABBITMQ_URL);
      if (settings.RABBITMQ_VHOSTS && !settings.RABBITMQ_VHOSTS.includes(vhost)) {
        return ["RABBITMQ_VHOSTS", "the amqp source reads only the vhost of RABBITMQ_URL, which is not listed"];
      }
      return undefined;
    }
  }
}

function buildKind(kind: ConcreteKind, settings: RabbitmqSettings, context: SourceContext): DepthSource[] {
  const selection: QueueSelection = { filter: context.filter, vhosts: settings.RABBITMQ_VHOSTS };
  switch (kind) {
    case "prometheus": {
      const urls = settings.RABBITMQ_PROMETHEUS_URL!;
      return urls.map(
        (url) =>
          new PrometheusSource(url, selection, urls.length === 1 ? "prometheus" : undefined, context.maxResponseBytes),
      );
    }
    case "management":
      return [
        new ManagementSource({
          url: settings.RABBITMQ_MANAGEMENT_URL!,
          fallbackCredentials: credentialsOfUrl(settings.RABBITMQ_URL),
          selection,
          logger: context.logger,
          maxResponseBytes: context.maxResponseBytes,
        }),
      ];
    case "amqp": {
      const connection = new AmqpConnection(settings.RABBITMQ_URL!, context.logger);
      // The queues are named explicitly; QUEUE_INCLUDE/QUEUE_EXCLUDE still apply, for consistency.
      const queues = settings.RABBITMQ_QUEUES!.filter((queue) => context.filter.keeps(queue));
      if (queues.length === 0) {
        throw new ConfigError("RABBITMQ_QUEUES", "QUEUE_INCLUDE/QUEUE_EXCLUDE leave none of the listed queues");
      }
      return queues.map((queue) => new AmqpQueueSource(connection, queue));
    }
  }
}

const AUTO_ORDER: readonly ConcreteKind[] = ["prometheus", "management", "amqp"];

/**
 * Builds the RabbitMQ sources. Explicit kinds must have their settings; `auto` considers only the
 * kinds whose addresses are set (no host or port is guessed) and, when that is one kind, simply is
 * that kind.
 */
export function createRabbitmqSources(settings: RabbitmqSettings, context: SourceContext): DepthSource[] {
  const kind = settings.RABBITMQ_SOURCE;
  if (kind !== "auto") {
    const missing = missingFor(kind, settings);
    if (missing) throw new ConfigError(missing[0], missing[1]);
    return buildKind(kind, settings, context);
  }
  const usable = AUTO_ORDER.filter((candidate) => missingFor(candidate, settings) === undefined);
  if (usable.length === 0) {
    // Only RABBITMQ_URL is set (else isConfigured would be false): amqp is what is left.
    const missing = missingFor("amqp", settings)!;
    throw new ConfigError(
      missing[0],
      `${missing[1]}; or set RABBITMQ_PROMETHEUS_URL or RABBITMQ_MANAGEMENT_URL for RABBITMQ_SOURCE=auto`,
    );
  }
  if (usable.length === 1) return buildKind(usable[0]!, settings, context);
  const candidates: Candidate[] = usable.map((candidate) => ({
    kind: candidate,
    sources: buildKind(candidate, settings, context),
  }));
  return [new AutoSource(candidates, context.logger)];
}
