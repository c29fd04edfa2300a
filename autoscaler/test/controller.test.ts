import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { HpaController, parseHpa, reconcile, type HpaSpec, type MetricSample } from "../src/engine/index.js";

const SAMPLE = parseHpa(parse(readFileSync(new URL("./fixtures/hpa.yaml", import.meta.url), "utf8")));
const external = (name: string, averageValue = 100) => ({
  type: "External",
  external: { metric: { name }, target: { type: "AverageValue", averageValue } },
});
const LEGACY: HpaSpec = parseHpa({ minReplicas: 1, maxReplicas: 50, metrics: [external("depth")] });
const depth = (value: number): MetricSample => ({ value });

/** Syncs every 15 s with one depth per sync, applying each decision; returns the replica counts. */
function run(spec: HpaSpec, depths: (number | null)[], start: number): number[] {
  const controller = new HpaController(spec);
  let replicas = start;
  const out: number[] = [];
  depths.forEach((value, index) => {
    const decision = controller.sync({
      now: index * 15,
      currentReplicas: replicas,
      metrics: [value === null ? null : depth(value)],
    });
    replicas = decision.desiredReplicas;
    out.push(replicas);
  });
  return out;
}

describe("scaling up with the sample HPA (Max of +100 % and +4 pods per 15 s, max 50)", () => {
  it("5000 messages from 1 replica: 1 → 5 → 10 → 20 → 40 → 50", () => {
    // t=0: max(1+4, ceil(1×2)) = 5; t=15: the +4 at t=0 is exactly 15 s old, so the period starts
    // at 5: max(9, 10) = 10; then 20, 40, and 80 is clamped to maxReplicas 50.
    expect(run(SAMPLE, [5000, 5000, 5000, 5000, 5000, 5000], 1)).toEqual([5, 10, 20, 40, 50, 50]);
  });

  it("says why it stopped short", () => {
    const decision = reconcile(
      SAMPLE,
      { now: 0, currentReplicas: 1, metrics: [depth(5000)] },
      {
        recommendations: [],
        scaleUpEvents: [],
        scaleDownEvents: [],
      },
    );
    expect(decision).toMatchObject({ desiredReplicas: 5, metricReplicas: 50, rescale: true });
    expect(decision.reason).toContain("external metric queuescale_queue_depth above target (proposal 50)");
    expect(decision.reason).toContain("ScaleUpLimit");
  });
});

describe("scaling down with the sample HPA (300 s window, Min of −10 % per 60 s)", () => {
  it("holds 50 for the window, then 45, holds while that event is in its 60 s period, then 40, 36, 32", () => {
    // t=0..285: the 50 recommended at t=0 (and the initial one) stay in the 300 s window.
    // t=300: window empty of 50s (t=0 is exactly 300 s old) → proposal 0, floor trunc(50 × 0.9) = 45.
    // t=315..345: the 5 removed at t=300 are inside 60 s → floor 45. t=360: floor trunc(45 × 0.9) = 40.
    const depths = [5000, ...Array<number>(40).fill(0)];
    const replicas = run(SAMPLE, depths, 50);
    expect(replicas.slice(0, 20)).toEqual(Array<number>(20).fill(50));
    expect(replicas.slice(20, 25)).toEqual([45, 45, 45, 45, 40]);
    expect(replicas.slice(28, 33)).toEqual([36, 36, 36, 36, 32]);
  });

  it("a new HPA does not scale down in its first window: the initial recommendation is the current count", () => {
    const replicas = run(SAMPLE, Array<number>(22).fill(100), 10);
    // 100 messages want 1 replica; the 10 recorded at t=0 holds until t=300.
    expect(replicas.slice(0, 20)).toEqual(Array<number>(20).fill(10));
    expect(replicas[20]).toBe(9); // trunc(10 × 0.9)
  });
});

describe("legacy path (no behavior): max(2 × current, 4) per sync up, 300 s window down", () => {
  it("1 → 4 → 8 → 16 → 32 → 50", () => {
    expect(run(LEGACY, [5000, 5000, 5000, 5000, 5000, 5000], 1)).toEqual([4, 8, 16, 32, 50, 50]);
  });

  it("drops straight to the proposal once the window passes (no rate limit down)", () => {
    const replicas = run(LEGACY, [5000, ...Array<number>(21).fill(200)], 50);
    // The sample exactly 300 s old still counts in the legacy path (t=0 at t=300); gone at t=315.
    expect(replicas[20]).toBe(50);
    expect(replicas[21]).toBe(2);
  });
});

describe("missing metrics", () => {
  const two: HpaSpec = parseHpa({
    maxReplicas: 20,
    metrics: [external("a"), external("b")],
    behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
  });

  it("never scales down while a metric is missing: b says 1 replica, a is unknown → stays 10", () => {
    const decision = reconcile(
      two,
      { now: 0, currentReplicas: 10, metrics: [null, depth(100)] },
      {
        recommendations: [{ t: -1000, replicas: 10 }],
        scaleUpEvents: [],
        scaleDownEvents: [],
      },
    );
    expect(decision.desiredReplicas).toBe(10);
    expect(decision.rescale).toBe(false);
    expect(decision.reason).toMatch(/^FailedComputeMetricsReplicas: invalid metrics \(1 invalid out of 2\)/);
  });

  it("scales up from the metrics that answered: b says 1500/100 = 15 → 10 → 15", () => {
    const decision = reconcile(
      two,
      { now: 0, currentReplicas: 10, metrics: [null, depth(1500)] },
      {
        recommendations: [],
        scaleUpEvents: [],
        scaleDownEvents: [],
      },
    );
    expect(decision.desiredReplicas).toBe(15);
    expect(decision.reason).toContain("invalid metrics (1 invalid out of 2)");
  });

  it("holds when every metric is missing, and an outage is not an empty queue", () => {
    const replicas = run(SAMPLE, [1000, null, null, null], 10);
    expect(replicas).toEqual([10, 10, 10, 10]);
  });

  it("the largest proposal of several metrics wins: a → 3, b → 7", () => {
    const decision = reconcile(
      two,
      { now: 0, currentReplicas: 5, metrics: [depth(300), depth(700)] },
      {
        recommendations: [],
        scaleUpEvents: [],
        scaleDownEvents: [],
      },
    );
    expect(decision.desiredReplicas).toBe(7);
    expect(decision.reason).toContain("external metric b above target");
  });
});

describe("replica count outside the spec", () => {
  const empty = () => ({ recommendations: [], scaleUpEvents: [], scaleDownEvents: [] });

  it("0 replicas with minReplicas 1 means autoscaling is off", () => {
    const decision = reconcile(SAMPLE, { now: 0, currentReplicas: 0, metrics: [depth(5000)] }, empty());
    expect(decision).toMatchObject({ desiredReplicas: 0, rescale: false });
    expect(decision.reason).toMatch(/^ScalingDisabled/);
  });

  it("above maxReplicas goes straight to max, below minReplicas straight to min, whatever the metrics", () => {
    expect(reconcile(SAMPLE, { now: 0, currentReplicas: 70, metrics: [depth(0)] }, empty()).desiredReplicas).toBe(50);
    const min3 = parseHpa({ minReplicas: 3, maxReplicas: 5, metrics: [external("d")] });
    expect(reconcile(min3, { now: 0, currentReplicas: 1, metrics: [null] }, empty()).desiredReplicas).toBe(3);
  });

  it("a proposal of 0 is clamped to minReplicas 1", () => {
    const fast = parseHpa({
      maxReplicas: 10,
      metrics: [external("d")],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    });
    const state = { recommendations: [{ t: -100, replicas: 4 }], scaleUpEvents: [], scaleDownEvents: [] };
    const decision = reconcile(fast, { now: 0, currentReplicas: 4, metrics: [depth(0)] }, state);
    expect(decision).toMatchObject({ desiredReplicas: 1, metricReplicas: 0 });
    expect(decision.reason).toContain("TooFewReplicas");
  });
});

describe("tolerance", () => {
  it("the controller flag (0.1) keeps 2 replicas at 215 messages; a scaleUp tolerance of 0 moves to 3", () => {
    const empty = () => ({ recommendations: [], scaleUpEvents: [], scaleDownEvents: [] });
    expect(reconcile(SAMPLE, { now: 0, currentReplicas: 2, metrics: [depth(215)] }, empty()).desiredReplicas).toBe(2);
    const strict = parseHpa({ maxReplicas: 10, metrics: [external("d")], behavior: { scaleUp: { tolerance: 0 } } });
    expect(reconcile(strict, { now: 0, currentReplicas: 2, metrics: [depth(215)] }, empty()).desiredReplicas).toBe(3);
    expect(
      reconcile(SAMPLE, { now: 0, currentReplicas: 2, metrics: [depth(215)] }, empty(), {
        tolerance: 0.05,
        downscaleStabilizationSeconds: 300,
      }).desiredReplicas,
    ).toBe(3);
  });
});
