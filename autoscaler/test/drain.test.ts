import { describe, expect, it } from "vitest";
import { parseHpa } from "../src/engine/index.js";
import { Backlog, weightedQuantile } from "../src/sim/drain/backlog.js";
import { REQUIRED_REPLICAS_METRIC, type DrainModel } from "../src/sim/drain/model.js";
import { drawPhases } from "../src/sim/drain/phases.js";
import {
  DrainRule,
  MetricPipeline,
  counterRate,
  leastSquaresSlope,
  type ScrapeSample,
} from "../src/sim/drain/pipeline.js";
import { drainTimeSpec, fixedTargetSpec, runHpa, runOracle } from "../src/sim/drain/run.js";

const depthMetric = (averageValue: number) => ({
  type: "External",
  external: { metric: { name: "queuescale_queue_depth" }, target: { type: "AverageValue", averageValue } },
});

/** Scale-down without a window and at any pace, so each sync's decision can be worked out by hand. */
const QUICK = parseHpa({
  minReplicas: 1,
  maxReplicas: 20,
  metrics: [depthMetric(100)],
  behavior: {
    scaleUp: { policies: [{ type: "Pods", value: 20, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0 },
  },
});

const model = (extra: Partial<DrainModel>): DrainModel => ({
  bursts: [],
  rates: [],
  handler: [{ from: 0, secondsPerMessage: 1 }],
  concurrency: 1,
  drainTargetSeconds: 10,
  startupSeconds: 0,
  pipeline: {
    pollIntervalSeconds: 1,
    scrapeIntervalSeconds: 1,
    ruleIntervalSeconds: 1,
    adapterDelaySeconds: 0,
    syncPeriodSeconds: 5,
  },
  windows: { handlerSeconds: 5, arrivals: 5, lastKnownHandlerSeconds: 3600 },
  durationSeconds: 30,
  initialReplicas: 1,
  ...extra,
});

const ZERO = { poll: 0, scrape: 0, rule: 0, sync: 0 };

describe("backlog", () => {
  it("starts messages oldest first and records each one's wait", () => {
    const backlog = new Backlog();
    backlog.add(0, 10);
    backlog.add(1, 10);
    // Second 1: 5 of the t=0 messages start after 1 s.
    expect(backlog.take(1, 5)).toBe(5);
    // Second 2: the other 5 of t=0 (2 s), then 5 of t=1 (1 s).
    expect(backlog.take(2, 10)).toBe(10);
    expect(backlog.depth).toBe(5);
    expect(backlog.waits).toEqual([
      { wait: 1, messages: 5 },
      { wait: 2, messages: 5 },
      { wait: 1, messages: 5 },
    ]);
    // The 5 never started count up to the end of a run ending at 10: 9 s.
    expect(backlog.waitsUntil(10).at(-1)).toEqual({ wait: 9, messages: 5 });
  });

  it("p95 is the smallest wait that covers 95 % of the messages", () => {
    expect(
      weightedQuantile(
        [
          { wait: 0, messages: 90 },
          { wait: 10, messages: 10 },
        ],
        0.95,
      ),
    ).toBe(10);
    expect(
      weightedQuantile(
        [
          { wait: 0, messages: 95 },
          { wait: 10, messages: 5 },
        ],
        0.95,
      ),
    ).toBe(0);
    expect(weightedQuantile([], 0.95)).toBeNull();
  });
});

describe("the drain-time rule on scraped samples", () => {
  // Depth 100 → 400 while 50 messages finish every 10 s, each taking 0.5 s.
  const samples: ScrapeSample[] = [0, 10, 20, 30].map((t) => ({
    t,
    depth: 100 + 10 * t,
    completions: 5 * t,
    handlerSeconds: 2.5 * t,
  }));
  const windows = { handlerSeconds: 30, arrivals: 30, lastKnownHandlerSeconds: 3600 };
  /** Evaluates at every scrape, as Prometheus would with the same interval; returns the last. */
  const evaluateAll = (rule: DrainRule, upTo: readonly ScrapeSample[]) =>
    upTo.map((sample, index) => rule.evaluate(upTo.slice(0, index + 1), sample.t)).at(-1)!;

  it("required = (400 / 50 + (5 + 10)) × 0.5 / 2 = 5.75", () => {
    // At t=30 the window (0, 30] holds the samples of 10, 20 and 30 s. s = (75 − 25) s / (150 − 50)
    // messages = 0.5 s. rate: an increase of 100 over 20 s, extrapolated 10 s back to the window's
    // start (within 1.1 sample intervals, and where the counter would reach 0) → 150 / 30 s = 5/s.
    // deriv of the recorded depth 200, 300, 400 = 10/s. T = 50, c = 2.
    const rule = new DrainRule({ windows, drainTargetSeconds: 50, concurrency: 2 });
    expect(evaluateAll(rule, samples)).toEqual({ t: 30, required: 5.75, handlerSeconds: 0.5, arrivalRate: 15 });
  });

  it("rate extrapolates half a sample interval past a gap, and divides by the window", () => {
    // Samples at 50 and 60 in (0, 60]: 50 s to the start is past 1.1 × 10 s, so 5 s; 0 to the end.
    // The counter, 100 at t=50, would reach 0 only 10 s earlier, which is further than 5 s.
    const points = [
      { t: 50, v: 100 },
      { t: 60, v: 150 },
    ];
    expect(counterRate(points, 60, 60)).toBe((50 * (15 / 10)) / 60);
    expect(counterRate(points.slice(0, 1), 60, 60)).toBeNull();
  });

  it("is absent until the recorded depth has two points", () => {
    const rule = new DrainRule({ windows, drainTargetSeconds: 50, concurrency: 2 });
    expect(rule.evaluate(samples.slice(0, 1), 0).required).toBeNull();
  });

  it("keeps the last known handler time for an hour when nothing finishes, then is absent", () => {
    const rule = new DrainRule({ windows, drainTargetSeconds: 50, concurrency: 2 });
    evaluateAll(rule, samples);
    // Later, nothing finishes and the depth stays at 400: λ = 0, s = 0.5 as known at t=30.
    const idle = [3610, 3620, 3630].map((t) => ({ t, depth: 400, completions: 150, handlerSeconds: 75 }));
    expect(evaluateAll(rule, idle)).toMatchObject({ t: 3630, required: 2, handlerSeconds: 0.5, arrivalRate: 0 });
    expect(rule.evaluate([...idle, { ...idle[2]!, t: 3631 }], 3631)).toMatchObject({
      required: null,
      handlerSeconds: null,
    });
  });

  it("clamps the arrival estimate at 0 when the depth falls faster than the completions say", () => {
    const rule = new DrainRule({ windows, drainTargetSeconds: 50, concurrency: 1 });
    const falling: ScrapeSample[] = [
      { t: 0, depth: 300, completions: 0, handlerSeconds: 0 },
      { t: 10, depth: 0, completions: 10, handlerSeconds: 10 },
    ];
    // completions 1/s at most, depth slope −30/s: λ = 0; backlog 0 → required 0.
    expect(evaluateAll(rule, falling)).toEqual({ t: 10, required: 0, handlerSeconds: 1, arrivalRate: 0 });
  });

  it("the slope is PromQL's deriv: least squares, not first-to-last", () => {
    expect(
      leastSquaresSlope([
        { t: 0, v: 0 },
        { t: 1, v: 3 },
        { t: 2, v: 0 },
      ]),
    ).toBe(0);
  });
});

describe("the metric pipeline's phases", () => {
  it("a value is as old as the poll, then the scrape, then the adapter delay make it", () => {
    const pipeline = new MetricPipeline(
      model({
        pipeline: {
          pollIntervalSeconds: 5,
          scrapeIntervalSeconds: 10,
          ruleIntervalSeconds: 10,
          adapterDelaySeconds: 5,
          syncPeriodSeconds: 15,
        },
      }),
      { poll: 3, scrape: 6, rule: 0, sync: 7 },
    );
    // The depth equals the second: polls at 3, 8, 13, 18, 23; scrapes at 6 (reads 3), 16 (13), 26 (23).
    for (let t = 0; t <= 30; t++) pipeline.observe(t, t, 0, 0);
    expect(pipeline.scrapes.map((sample) => [sample.t, sample.depth])).toEqual([
      [6, 3],
      [16, 13],
      [26, 23],
    ]);
    // At 22 the adapter sees scrapes up to 17: depth 13, 9 s old. At 31, up to 26: depth 23.
    expect(pipeline.read(22).depth).toBe(13);
    expect(pipeline.read(31).depth).toBe(23);
    expect(pipeline.read(10).depth).toBeNull();
    expect([7, 22, 37].map((t) => pipeline.syncsAt(t))).toEqual([true, true, true]);
    expect(pipeline.syncsAt(8)).toBe(false);
  });

  it("draws each stage's phase within its interval, the same for the same seed", () => {
    const stages = { ...model({}).pipeline, pollIntervalSeconds: 5, scrapeIntervalSeconds: 10 };
    const draws = drawPhases(stages, 200, 7);
    expect(drawPhases(stages, 200, 7)).toEqual(draws);
    expect(new Set(draws.map((phase) => phase.poll))).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(new Set(draws.map((phase) => phase.scrape)).size).toBe(10);
    expect(draws.every((phase) => phase.sync >= 0 && phase.sync < 5)).toBe(true);
  });
});

describe("the oracle", () => {
  it("600 messages at t=0, T = 60 s, 2 messages/s per replica: 5 replicas for 60 s, each message starts by T", () => {
    // Pace 600 / 60 = 10 messages/s → 5 replicas; each second leaves the pace at 10 (590 / 59, …).
    const run = runOracle(
      model({
        bursts: [{ t: 0, messages: 600 }],
        handler: [{ from: 0, secondsPerMessage: 0.5 }],
        drainTargetSeconds: 60,
        durationSeconds: 100,
      }),
      QUICK,
    );
    expect(run.timeline[0]).toEqual({ t: 0, depth: 0, replicas: 5, ready: 5 });
    expect(run.timeline[59]).toEqual({ t: 59, depth: 10, replicas: 5, ready: 5 });
    expect(run.timeline[60]).toEqual({ t: 60, depth: 0, replicas: 1, ready: 1 });
    // 10 messages start in each of seconds 0–59: 570 of 600 have waited at most 56 s.
    expect(run.summary).toEqual({
      overTargetShare: 0,
      p95WaitSeconds: 56,
      replicaSeconds: 5 * 60 + 40,
      peakReplicas: 5,
      unfinished: 0,
    });
  });
});

describe("fixed target against drain time", () => {
  // 10 messages/s, 1 s each, one at a time per worker: 10 replicas keep up exactly.
  const steady = model({ rates: [{ from: 0, to: 30, perSecond: 10 }], initialReplicas: 10 });

  it("the fixed target sees an empty queue and drops to 1; the backlog then grows by 9 a second", () => {
    const run = runHpa(steady, fixedTargetSpec(QUICK), ZERO);
    // t=0: depth 0 → 1 replica. t=5: 45, t=10: 90 → ceil(0.9) = 1. t=15: 135 → 2.
    expect(run.timeline.slice(0, 16).map((point) => point.replicas)).toEqual([...Array(15).fill(1), 2]);
    expect(run.timeline[15]!.depth).toBe(135);
  });

  it("the drain-time HPA holds 10: at t=0 its metric is absent, which blocks a scale-down; from t=5 it reads 10", () => {
    const spec = drainTimeSpec(QUICK);
    expect(spec.metrics.map((metric) => metric.name)).toEqual(["queuescale_queue_depth", REQUIRED_REPLICAS_METRIC]);
    // t=5: s = 1 s; λ = rate (40 over the samples of 1–5 s, extrapolated to the window (0, 5]: 50 / 5 s)
    // + slope 0 = 10/s; backlog 0 → (0 / 10 + 10) × 1 / 1 = 10.
    const run = runHpa(steady, spec, ZERO);
    expect(run.summary).toEqual({
      overTargetShare: 0,
      p95WaitSeconds: 0,
      replicaSeconds: 300,
      peakReplicas: 10,
      unfinished: 0,
    });
  });

  it("a manifest that already has the drain-time metric is used as it is", () => {
    const both = drainTimeSpec(drainTimeSpec(QUICK));
    expect(both.metrics).toHaveLength(2);
    expect(fixedTargetSpec(both).metrics.map((metric) => metric.name)).toEqual(["queuescale_queue_depth"]);
  });
});
