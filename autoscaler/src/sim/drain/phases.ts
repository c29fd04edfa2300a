import { seededRandom } from "@queuescale/core";
import type { Phases, PipelineModel } from "./model.js";

/**
 * `count` phase sets, each stage's phase uniform over its interval. Seeded, so a comparison is
 * repeatable: the same seed gives the same phases.
 */
export function drawPhases(pipeline: PipelineModel, count: number, seed: number): Phases[] {
  const next = seededRandom(seed);
  const pick = (interval: number) => Math.floor(next() * interval);
  return Array.from({ length: count }, () => ({
    poll: pick(pipeline.pollIntervalSeconds),
    scrape: pick(pipeline.scrapeIntervalSeconds),
    rule: pick(pipeline.ruleIntervalSeconds),
    sync: pick(pipeline.syncPeriodSeconds),
  }));
}
