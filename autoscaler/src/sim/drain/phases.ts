import type { Phases, PipelineModel } from "./model.js";

/**
 * Seeded phase draws, so a comparison is repeatable: the same seed gives the same phases.
 * mulberry32, a small 32-bit generator: the phases need spread, not cryptographic quality.
 */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` phase sets, each stage's phase uniform over its interval. */
export function drawPhases(pipeline: PipelineModel, count: number, seed: number): Phases[] {
  const next = generator(seed);
  const pick = (interval: number) => Math.floor(next() * interval);
  return Array.from({ length: count }, () => ({
    poll: pick(pipeline.pollIntervalSeconds),
    scrape: pick(pipeline.scrapeIntervalSeconds),
    rule: pick(pipeline.ruleIntervalSeconds),
    sync: pick(pipeline.syncPeriodSeconds),
  }));
}
