import { z } from "zod";
import type { BrokerAdapter, DepthSource, Snapshot } from "@queuescale/core";

/**
 * A broker that exists only in the test suite: depths held in memory, read-only (no consumer, no
 * publisher). It proves the seam: registered in an adapter list, it reaches the exporter's
 * /metrics, the generated monitoring rules and the metric contract without any program knowing it.
 */
export const memorySettings = {
  MEMORY_TOPICS: z
    .string()
    .regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/, { message: "must be comma-separated topic names" })
    .optional()
    .describe("Comma-separated topics of the in-memory test broker."),
};

/** Depths per topic; tests set them, the source reads them at each poll. */
export const memoryDepths = new Map<string, number>();

class MemorySource implements DepthSource {
  readonly broker = "memory";
  readonly name = "memory";

  constructor(private readonly topics: readonly string[]) {}

  poll(): Promise<Snapshot> {
    const readings = this.topics.map((topic) => ({
      broker: this.broker,
      labels: { topic },
      depth: memoryDepths.get(topic) ?? 0,
    }));
    return Promise.resolve({ readings, takenAtMs: Date.now() });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const memoryAdapter = {
  name: "memory",
  identityLabels: ["topic"],
  settings: memorySettings,
  depth: {
    isConfigured: (settings) => settings.MEMORY_TOPICS !== undefined,
    createSources: (settings, { filter }) => [
      new MemorySource((settings.MEMORY_TOPICS ?? "").split(",").filter((topic) => filter.keeps(topic))),
    ],
  },
} as const satisfies BrokerAdapter<typeof memorySettings>;
