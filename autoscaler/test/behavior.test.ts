import { describe, expect, it } from "vitest";
import {
  emptyState,
  limitLegacy,
  scaleDownLimit,
  scaleUpLimit,
  stabilizeLegacy,
  stabilizeWithBehavior,
  storeScaleEvent,
  type HpaState,
  type ScalingRules,
} from "../src/engine/index.js";

const rules = (
  policies: ScalingRules["policies"],
  selectPolicy: ScalingRules["selectPolicy"] = "Max",
): ScalingRules => ({
  stabilizationWindowSeconds: 0,
  selectPolicy,
  policies,
  tolerance: undefined,
});

const UP_DEFAULT = rules([
  { type: "Pods", value: 4, periodSeconds: 15 },
  { type: "Percent", value: 100, periodSeconds: 15 },
]);

describe("scale-up policies", () => {
  it("Max of +4 pods and +100 % from 1 replica: max(1 + 4, ceil(1 × 2)) = 5", () => {
    expect(scaleUpLimit(1, emptyState(), UP_DEFAULT, 0)).toBe(5);
  });

  it("Min picks the smaller change: from 10, min(10 + 4, 20) = 14; Max gives 20", () => {
    const min = { ...UP_DEFAULT, selectPolicy: "Min" as const };
    expect(scaleUpLimit(10, emptyState(), min, 0)).toBe(14);
    expect(scaleUpLimit(10, emptyState(), UP_DEFAULT, 0)).toBe(20);
  });

  it("Percent rounds up: +10 % of 3 = ceil(3.3) = 4", () => {
    expect(scaleUpLimit(3, emptyState(), rules([{ type: "Percent", value: 10, periodSeconds: 15 }]), 0)).toBe(4);
  });

  it("Disabled allows no change", () => {
    expect(scaleUpLimit(7, emptyState(), { ...UP_DEFAULT, selectPolicy: "Disabled" }, 0)).toBe(7);
  });

  it("looks back over scale events inside periodSeconds: +4 at t=100 counts at t=110 (limit 4 + 4 = 8 from 8), not at t=160 (8 + 4 = 12)", () => {
    const state: HpaState = { ...emptyState(), scaleUpEvents: [{ t: 100, change: 4 }] };
    const pods4per60 = rules([{ type: "Pods", value: 4, periodSeconds: 60 }]);
    expect(scaleUpLimit(8, state, pods4per60, 110)).toBe(8);
    // Exactly one period old is outside it (the controller keeps events strictly after the cutoff).
    expect(scaleUpLimit(8, state, pods4per60, 160)).toBe(12);
  });

  it("counts replicas removed in the period back into its start: 6 now, 2 removed at t=5 → start 8 → +4 = 12 at t=10", () => {
    const state: HpaState = { ...emptyState(), scaleDownEvents: [{ t: 5, change: 2 }] };
    expect(scaleUpLimit(6, state, rules([{ type: "Pods", value: 4, periodSeconds: 15 }]), 10)).toBe(12);
  });
});

describe("scale-down policies", () => {
  const down10per60 = rules([{ type: "Percent", value: 10, periodSeconds: 60 }], "Min");

  it("Percent truncates what stays: −10 % of 15 = trunc(13.5) = 13; of 80 = 72", () => {
    expect(scaleDownLimit(15, emptyState(), down10per60, 0)).toBe(13);
    expect(scaleDownLimit(80, emptyState(), down10per60, 0)).toBe(72);
  });

  it("holds while the 8 removed are inside the 60 s period: start 72 + 8 = 80 → floor 72 again", () => {
    const state: HpaState = { ...emptyState(), scaleDownEvents: [{ t: 0, change: 8 }] };
    expect(scaleDownLimit(72, state, down10per60, 45)).toBe(72);
    expect(scaleDownLimit(72, state, down10per60, 60)).toBe(64); // trunc(72 × 0.9 = 64.8)
  });

  it("Min picks the smaller change (higher floor), Max the larger: from 20, Pods 2 vs Percent 50 → 18 vs 10", () => {
    const policies: ScalingRules["policies"] = [
      { type: "Pods", value: 2, periodSeconds: 60 },
      { type: "Percent", value: 50, periodSeconds: 60 },
    ];
    expect(scaleDownLimit(20, emptyState(), rules(policies, "Min"), 0)).toBe(18);
    expect(scaleDownLimit(20, emptyState(), rules(policies, "Max"), 0)).toBe(10);
    expect(scaleDownLimit(20, emptyState(), rules(policies, "Disabled"), 0)).toBe(20);
  });
});

describe("stabilization with behavior", () => {
  it("scale-down: the highest recommendation of the window wins (10 at t=0 holds a proposal of 4 at t=200)", () => {
    const state: HpaState = {
      ...emptyState(),
      recommendations: [
        { t: 0, replicas: 10 },
        { t: 100, replicas: 6 },
      ],
    };
    expect(stabilizeWithBehavior(state, 4, 10, 0, 300, 200)).toEqual({ replicas: 10, reason: "ScaleDownStabilized" });
    // At t=301 the 10 has left the window; the highest left is 6.
    expect(stabilizeWithBehavior(state, 4, 10, 0, 300, 301).replicas).toBe(6);
  });

  it("a recommendation exactly one window old no longer counts", () => {
    const state: HpaState = { ...emptyState(), recommendations: [{ t: 0, replicas: 10 }] };
    expect(stabilizeWithBehavior(state, 4, 10, 0, 300, 300).replicas).toBe(4);
  });

  it("scale-up: the lowest recommendation of the window wins (2 at t=0 holds 8 at t=45 with a 60 s window)", () => {
    const state: HpaState = { ...emptyState(), recommendations: [{ t: 0, replicas: 2 }] };
    expect(stabilizeWithBehavior(state, 8, 2, 60, 300, 45)).toEqual({ replicas: 2, reason: "ScaleUpStabilized" });
    expect(stabilizeWithBehavior(state, 8, 2, 60, 300, 61).replicas).toBe(8);
  });

  it("records the unstabilized proposal, reusing a slot older than both windows", () => {
    const state: HpaState = {
      ...emptyState(),
      recommendations: [
        { t: 0, replicas: 9 },
        { t: 250, replicas: 3 },
      ],
    };
    stabilizeWithBehavior(state, 5, 5, 0, 300, 400);
    expect(state.recommendations).toEqual([
      { t: 400, replicas: 5 },
      { t: 250, replicas: 3 },
    ]);
  });
});

describe("legacy path (no behavior)", () => {
  it("stabilizes down over the controller window, counting a sample exactly one window old", () => {
    const state: HpaState = { ...emptyState(), recommendations: [{ t: 0, replicas: 10 }] };
    expect(stabilizeLegacy(state, 4, 300, 300).replicas).toBe(10);
    expect(stabilizeLegacy(state, 4, 300, 301).replicas).toBe(4);
  });

  it("scales up at most to max(2 × current, 4) per sync, then clamps to min/max", () => {
    expect(limitLegacy(50, 1, 1, 50).replicas).toBe(4);
    expect(limitLegacy(50, 10, 1, 50)).toMatchObject({ replicas: 20, reason: "ScaleUpLimit" });
    expect(limitLegacy(50, 30, 1, 50)).toMatchObject({ replicas: 50, reason: "DesiredWithinRange" });
    expect(limitLegacy(80, 30, 1, 50)).toMatchObject({ replicas: 50, reason: "TooManyReplicas" });
    expect(limitLegacy(0, 30, 2, 50)).toMatchObject({ replicas: 2, reason: "TooFewReplicas" });
  });
});

describe("scale events", () => {
  it("stores the change and reuses the slot of an event older than the longest policy period", () => {
    const state = emptyState();
    storeScaleEvent(state, UP_DEFAULT, UP_DEFAULT, 1, 5, 0);
    storeScaleEvent(state, UP_DEFAULT, UP_DEFAULT, 5, 10, 15);
    expect(state.scaleUpEvents.map((e) => [e.t, e.change])).toEqual([
      [0, 4],
      [15, 5],
    ]);
    storeScaleEvent(state, UP_DEFAULT, UP_DEFAULT, 10, 20, 31); // t=0 and t=15 are both older than 15 s
    expect(state.scaleUpEvents.map((e) => [e.t, e.change])).toEqual([
      [0, 4],
      [31, 10],
    ]);
    storeScaleEvent(state, UP_DEFAULT, UP_DEFAULT, 20, 12, 40);
    expect(state.scaleDownEvents.map((e) => [e.t, e.change])).toEqual([[40, 8]]);
  });
});
