import { Histogram } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRegistry, renderRegistry, type ExpositionFormat } from "@queuescale/core";
import { CountingHistogram } from "../src/counting-histogram.js";

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
const QUEUE = { broker: "nats", stream: "JOBS", consumer: "workers" };
// On a bound, between bounds, past the last one, zero and the smallest.
const OBSERVED = [0.001, 0.0005, 0.05, 0.1, 3, 10, 42, 0, 1e-9, 0.7];

/** The same observations in prom-client's Histogram and in ours, each in a registry labelled as the worker's is. */
async function bothRendered(format: ExpositionFormat, observed: number[]) {
  const theirs = createRegistry();
  theirs.setDefaultLabels(QUEUE);
  const reference = new Histogram({ name: "x_seconds", help: "h", buckets: BUCKETS, registers: [theirs] });
  const ours = createRegistry();
  ours.setDefaultLabels(QUEUE);
  const counting = new CountingHistogram("x_seconds", "h", BUCKETS, ours);
  for (const value of observed) {
    reference.observe(value);
    counting.observe(value);
  }
  return { ours: await renderRegistry(ours, format), theirs: await renderRegistry(theirs, format), counting };
}

describe("CountingHistogram", () => {
  for (const format of ["prometheus", "openmetrics"] as const) {
    it(`renders what prom-client's Histogram renders for the same observations (${format})`, async () => {
      const { ours, theirs } = await bothRendered(format, OBSERVED);
      expect(ours).toBe(theirs);
      expect(ours).toMatch(/^x_seconds_bucket\{le="0.01",broker="nats",stream="JOBS",consumer="workers"\} 4$/m);
      expect(ours).toMatch(/^x_seconds_count\{broker="nats",stream="JOBS",consumer="workers"\} 10$/m);
    });
  }

  it("renders a zero series before the first observation, and again after a reset", async () => {
    const { ours, theirs, counting } = await bothRendered("prometheus", []);
    expect(ours).toBe(theirs);
    expect(ours).toMatch(/^x_seconds_bucket\{le="\+Inf",broker="nats",stream="JOBS",consumer="workers"\} 0$/m);
    counting.observe(2);
    counting.reset();
    expect((await counting.get()).values.every((sample) => sample.value === 0)).toBe(true);
  });

  it("leaves out a value that is not a number rather than poisoning the sum", async () => {
    const { counting } = await bothRendered("prometheus", [1]);
    counting.observe(Number.NaN);
    counting.observe(Number.POSITIVE_INFINITY);
    const samples = (await counting.get()).values;
    expect(samples.find((sample) => sample.metricName === "x_seconds_count")!.value).toBe(1);
    expect(samples.find((sample) => sample.metricName === "x_seconds_sum")!.value).toBe(1);
  });
});
