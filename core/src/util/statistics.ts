/**
 * The few statistics the benchmarks, the demo and the simulator share: one definition of a
 * quantile, so that a p99 means the same in every report, and a seeded generator, so that a draw
 * can be repeated.
 */

/** The nearest-rank quantile (`q` from 0 to 1) of some values; NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Uniform numbers in [0, 1) from a 32-bit seed: the same seed gives the same sequence. mulberry32,
 * a small generator: fine for spread and resampling, not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A percentile-bootstrap interval for the median of some values: the values are drawn again with
 * replacement `resamples` times, and the interval holds the middle `level` of those draws'
 * medians. The level is nominal: on 20 to 30 values a 95 % interval holds the true median about
 * 90 % of the time (core/test/statistics.test.ts). Seeded, so a report's interval can be worked
 * out again from its values. NaN for both ends when there are no values.
 */
export function medianInterval(
  values: readonly number[],
  { level = 0.95, resamples = 2000, seed = 1 }: { level?: number; resamples?: number; seed?: number } = {},
): { low: number; high: number } {
  if (values.length === 0) return { low: NaN, high: NaN };
  const next = seededRandom(seed);
  const draw = new Array<number>(values.length);
  const medians: number[] = [];
  for (let resample = 0; resample < resamples; resample++) {
    for (let index = 0; index < values.length; index++) draw[index] = values[Math.floor(next() * values.length)]!;
    medians.push(quantile(draw, 0.5));
  }
  const tail = (1 - level) / 2;
  return { low: quantile(medians, tail), high: quantile(medians, 1 - tail) };
}
