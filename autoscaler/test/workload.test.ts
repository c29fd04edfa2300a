import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseHpa } from "../src/engine/index.js";
import { runWithHpa, runWithOracle, type WorkloadModel } from "../src/sim/workload.js";

const SAMPLE = parseHpa(parse(readFileSync(new URL("./fixtures/hpa.yaml", import.meta.url), "utf8")));

const model = (extra: Partial<WorkloadModel>): WorkloadModel => ({
  bursts: [{ t: 0, messages: 1000 }],
  rates: [],
  throughputPerReplica: 10,
  startupSeconds: 20,
  scrapeIntervalSeconds: 15,
  adapterDelaySeconds: 0,
  syncPeriodSeconds: 15,
  durationSeconds: 120,
  initialReplicas: 1,
  ...extra,
});

describe("closed loop with pod start-up", () => {
  // t=15: the scrape sees 1000 − 15 × 10 = 850 → proposal 9, limited to 5; the 4 new pods are ready at 35.
  // t=30: 850 − 15 × 10 = 700 on 5 replicas → ratio 1.4 → ceil(7) = 7 (2 more, ready at 50).
  // From t=35, 5 × 10/s works off the 650 left: 50 remain after t=46, none after t=47.
  const run = runWithHpa(model({}), SAMPLE);

  it("new pods do not work until they are ready", () => {
    expect(run.timeline[29]).toMatchObject({ replicas: 5, ready: 1 });
    expect(run.timeline[34]).toEqual({ t: 34, depth: 700 - 4 * 10, replicas: 7, ready: 1 });
    expect(run.timeline[35]).toMatchObject({ depth: 650, replicas: 7, ready: 5 });
    expect(run.timeline[49]).toMatchObject({ replicas: 7, ready: 5 });
    expect(run.timeline[50]).toMatchObject({ replicas: 7, ready: 7 });
  });

  it("drains at 47 s and holds 7 through the scale-down window: 15 × 1 + 15 × 5 + 90 × 7 = 720 replica-seconds", () => {
    expect(run.summary).toEqual({ drainSeconds: 47, peakReplicas: 7, replicaSeconds: 720, flaps: 0 });
  });

  it("the HPA sees nothing until a sample is old enough: with a 20 s adapter delay the t=15 sync holds 1", () => {
    const late = runWithHpa(model({ adapterDelaySeconds: 20 }), SAMPLE);
    expect(late.timeline[29]!.replicas).toBe(1);
    // t=30 sees the t=0 sample (0 messages, taken before the burst landed): still 1.
    expect(late.timeline[44]!.replicas).toBe(1);
    // t=45 sees the t=15 sample, 850 → 5.
    expect(late.timeline[45]!.replicas).toBe(5);
  });
});

describe("scale-down", () => {
  it("removes pods that are not ready first", () => {
    const quick = parseHpa({
      maxReplicas: 10,
      metrics: [
        { type: "External", external: { metric: { name: "d" }, target: { type: "AverageValue", averageValue: 100 } } },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    });
    // t=15 sees 2000 − 15 × 100 = 500 → 5 (4 pods starting until t=75); t=30 sees 0 → back to 1.
    const run = runWithHpa(
      model({ bursts: [{ t: 0, messages: 2000 }], throughputPerReplica: 100, startupSeconds: 60 }),
      quick,
    );
    expect(run.timeline[15]).toMatchObject({ replicas: 5, ready: 1 });
    expect(run.timeline[30]).toMatchObject({ depth: 0, replicas: 1, ready: 1 });
  });
});

describe("arrival rates", () => {
  it("a rate spreads over the seconds it covers: 2.5/s from 0.5 to 2.5 s is 1.25 + 2.5 + 1.25 messages", () => {
    // With no capacity left over (throughput 0.0001), the depth is the sum of arrivals so far.
    const slow = model({ bursts: [], rates: [{ from: 0.5, to: 2.5, perSecond: 2.5 }], throughputPerReplica: 1e-4 });
    const depths = runWithOracle({ ...slow, durationSeconds: 4 }, SAMPLE, 100).timeline.map((p) => p.depth);
    expect(depths[1]).toBeCloseTo(1.25 - 1e-4, 9);
    expect(depths[2]).toBeCloseTo(3.75 - 2e-4, 9);
    expect(depths[3]).toBeCloseTo(5 - 3e-4, 9);
  });

  it("a queue still holding messages at the end is not drained", () => {
    const endless = runWithOracle(
      model({ bursts: [], rates: [{ from: 0, to: 120, perSecond: 100 }], throughputPerReplica: 1 }),
      SAMPLE,
      100,
    );
    expect(endless.summary.drainSeconds).toBeNull();
  });
});
