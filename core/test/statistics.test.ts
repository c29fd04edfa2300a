import { describe, expect, it } from "vitest";
import { medianInterval, quantile, seededRandom } from "@queuescale/core";

describe("quantile", () => {
  it("takes the nearest rank, whatever the order of the values", () => {
    const values = [7, 3, 10, 1, 5, 9, 2, 8, 4, 6];
    expect(quantile(values, 0.5)).toBe(5);
    expect(quantile(values, 0.95)).toBe(10);
    expect(quantile(values, 0.1)).toBe(1);
    expect(quantile(values, 0)).toBe(1);
    expect(quantile(values, 1)).toBe(10);
    expect(quantile([4], 0.99)).toBe(4);
    // Not sorted in place: the caller's order stays.
    expect(values[0]).toBe(7);
  });

  it("is NaN for no values", () => {
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe("seededRandom", () => {
  it("repeats its sequence for a seed, differs between seeds, and stays in [0, 1)", () => {
    const draw = (seed: number) => {
      const next = seededRandom(seed);
      return Array.from({ length: 1000 }, () => next());
    };
    const first = draw(42);
    expect(draw(42)).toEqual(first);
    expect(draw(43)).not.toEqual(first);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first)).toBeLessThan(1);
    // Spread over the range: each tenth gets some of the draws.
    const tenths = new Set(first.map((value) => Math.floor(value * 10)));
    expect(tenths.size).toBe(10);
  });
});

describe("medianInterval", () => {
  const sample = (size: number, seed: number) => {
    const next = seededRandom(seed);
    return Array.from({ length: size }, () => next());
  };

  it("holds the sample's median and narrows as the rounds grow", () => {
    const few = sample(20, 1);
    const many = sample(400, 1);
    for (const values of [few, many]) {
      const { low, high } = medianInterval(values);
      expect(low).toBeLessThanOrEqual(quantile(values, 0.5));
      expect(high).toBeGreaterThanOrEqual(quantile(values, 0.5));
    }
    const width = (values: number[]) => {
      const { low, high } = medianInterval(values);
      return high - low;
    };
    expect(width(many)).toBeLessThan(width(few) / 2);
  });

  it("covers the true median in about 90 to 95 % of samples of 30", () => {
    // Uniform draws on [0, 1): the true median is 0.5.
    let covered = 0;
    const trials = 200;
    for (let trial = 0; trial < trials; trial++) {
      const { low, high } = medianInterval(sample(30, 1000 + trial), { resamples: 500 });
      if (low <= 0.5 && 0.5 <= high) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.88);
    expect(covered / trials).toBeLessThan(0.995);
  });

  it("is a point for values that do not vary, and NaN for none", () => {
    expect(medianInterval([1.2, 1.2, 1.2])).toEqual({ low: 1.2, high: 1.2 });
    const none = medianInterval([]);
    expect(none.low).toBeNaN();
    expect(none.high).toBeNaN();
  });
});
