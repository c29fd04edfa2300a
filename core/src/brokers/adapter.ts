import type { Logger } from "pino";
import type { z } from "zod";
import type { SettingsShape } from "../config.js";
import type { PollErrorReason } from "../contract.js";
import type { ReservedHeaderRule } from "../reserved-headers.js";
import type { WorkerBrokerModule } from "../consumer/types.js";
import type { ProducerBrokerModule } from "../publisher/types.js";
import type { NameFilter } from "../sources/filter.js";
import type { DepthSource } from "../sources/types.js";

export type SettingsOf<Shape extends SettingsShape> = z.infer<z.ZodObject<Shape>>;

/** What every broker's depth sources get besides their own settings. */
export interface SourceContext {
  filter: NameFilter;
  logger: Logger;
  /** The largest broker HTTP answer read (MAX_RESPONSE_BYTES); DEFAULT_MAX_RESPONSE_BYTES when unset. */
  maxResponseBytes?: number;
}

/** Reading queue depths: what the exporter needs of a broker. */
export interface DepthCapability<Shape extends SettingsShape> {
  /** True when the settings configure this broker at all (one of its addresses is set). */
  isConfigured(settings: SettingsOf<Shape>): boolean;
  /** Builds the sources. Throws ConfigError for settings that only make sense together. */
  createSources(settings: SettingsOf<Shape>, context: SourceContext): DepthSource[];
}

/**
 * One broker, declared once: its name (the `broker` label and the BROKER setting), the labels
 * that identify one unit of work on it, its settings (one shape: every program that talks to the
 * broker reads its addresses from here) and what it can do. Every capability is optional, so a
 * broker that can only be read (a depth-only adapter) is as legal as one a worker consumes.
 * Programs pick, from the adapter list, the adapters with the capability they need.
 */
export interface BrokerAdapter<Shape extends SettingsShape = SettingsShape> {
  readonly name: string;
  /** Labels that identify one queue of the broker, besides `broker` (e.g. vhost and queue). */
  readonly identityLabels: readonly string[];
  /** The broker's settings, for parsing, validation and --help; each program uses some of them. */
  readonly settings: Shape;
  readonly depth?: DepthCapability<Shape>;
  /** Consuming one queue with retries and dead letters: what the worker needs of a broker. */
  readonly worker?: WorkerBrokerModule;
  /** Publishing with confirms and managing queues: what the producer needs of a broker. */
  readonly producer?: ProducerBrokerModule;
  /** The reason label for a failure of this broker's client; undefined leaves it to the generic mapping. */
  classifyError?(error: unknown): PollErrorReason | undefined;
  /** Message headers the broker interprets, which a publisher must not set. */
  readonly reservedHeaders?: readonly ReservedHeaderRule[];
}

/** Some of a broker's settings, by name, for a program's own settings shape. */
export function pickSettings<Shape extends SettingsShape, const Key extends keyof Shape & string>(
  settings: Shape,
  keys: readonly Key[],
): Pick<Shape, Key> {
  const picked = {} as Pick<Shape, Key>;
  for (const key of keys) picked[key] = settings[key];
  return picked;
}
