import type { Logger } from "pino";
import type { z } from "zod";
import type { BrokerName } from "../contract.js";
import type { NameFilter } from "./filter.js";
import type { DepthSource } from "./types.js";

/** What every broker's sources get besides their own settings. */
export interface SourceContext {
  filter: NameFilter;
  logger: Logger;
  /** The largest broker HTTP answer read (MAX_RESPONSE_BYTES); DEFAULT_MAX_RESPONSE_BYTES when unset. */
  maxResponseBytes?: number;
}

/**
 * One broker's part of the exporter: its settings and how to build its depth sources from them.
 * Each broker folder exports one of these; the exporter iterates over them and never names a
 * broker itself.
 */
export interface BrokerModule<Shape extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  readonly broker: BrokerName;
  /** Settings this broker adds (documented in --help and the README). */
  readonly settings: Shape;
  /** True when the settings configure this broker at all (its address is set). */
  isConfigured(settings: z.infer<z.ZodObject<Shape>>): boolean;
  /** Builds the sources. Throws ConfigError for settings that only make sense together. */
  createSources(settings: z.infer<z.ZodObject<Shape>>, context: SourceContext): DepthSource[];
}
