import { describe, expect, it } from "vitest";
import { parseQuantity } from "../lib/api.js";
import { scaleDownLimit, scaleUpLimit, type ScalingRules } from "../lib/hpa-policy.js";

// The worker HPA's behavior in k8s/base/worker.yaml.
const scaleUp: ScalingRules = {
  selectPolicy: "Max",
  policies: [
    { type: "Percent", value: 100, periodSeconds: 15 },
    { type: "Pods", value: 4, periodSeconds: 15 },
  ],
};
const scaleDown: ScalingRules = { selectPolicy: "Min", policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] };
const now = 1_000_000;

describe("scale-up limit", () => {
  it("takes the policy allowing the most change (Max): +4 pods beats doubling from 1", () => {
    expect(scaleUpLimit(scaleUp, 1, [], now)).toBe(1 + 4);
  });

  it("doubling beats +4 pods from 5", () => {
    expect(scaleUpLimit(scaleUp, 5, [], now)).toBe(5 * 2);
  });

  it("counts the change already made in the policy's period", () => {
    const changes = [{ at: now - 5_000, from: 1, to: 5 }];
    expect(scaleUpLimit(scaleUp, 5, changes, now)).toBe(1 + 4);
    // Outside the 15 s period the earlier step no longer counts.
    expect(scaleUpLimit(scaleUp, 5, changes, now + 11_000)).toBe(5 * 2);
  });

  it("rounds a Percent proposal up, so a small deployment can still grow", () => {
    expect(scaleUpLimit({ policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] }, 3, [], now)).toBe(4);
  });
});

describe("scale-down limit", () => {
  it("truncates a Percent proposal: 10 % of 8 leaves 7", () => {
    expect(scaleDownLimit(scaleDown, 8, [], now)).toBe(7);
  });

  it("a scale-up inside the period lowers the period's starting count", () => {
    const changes = [{ at: now - 30_000, from: 4, to: 8 }];
    expect(scaleDownLimit(scaleDown, 8, changes, now)).toBe(Math.trunc(4 * 0.9));
  });

  it("Min keeps the highest floor among policies, Max the lowest", () => {
    const policies: ScalingRules["policies"] = [
      { type: "Percent", value: 50, periodSeconds: 60 },
      { type: "Pods", value: 1, periodSeconds: 60 },
    ];
    expect(scaleDownLimit({ selectPolicy: "Min", policies }, 10, [], now)).toBe(9);
    expect(scaleDownLimit({ selectPolicy: "Max", policies }, 10, [], now)).toBe(5);
  });
});

describe("parseQuantity", () => {
  it("reads the forms the metrics APIs write", () => {
    expect(parseQuantity("750")).toBe(750);
    expect(parseQuantity("93750m")).toBeCloseTo(93.75);
    expect(parseQuantity("2k")).toBe(2000);
  });

  it("refuses what it does not know instead of guessing", () => {
    expect(() => parseQuantity("1Ki")).toThrow(/unsupported quantity/);
  });
});
