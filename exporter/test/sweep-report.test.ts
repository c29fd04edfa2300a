import { describe, expect, it } from "vitest";
import { TARGETS, ratioVerdict } from "../bench/sweep-report.js";

describe("the size sweep's verdict on poll / endpoint", () => {
  const verdict = (low: number, high: number) => ratioVerdict({ pollRatioInterval: { low, high } });

  it("says met or missed only when the whole interval is on one side of the target", () => {
    expect(TARGETS.pollVsEndpoint).toBe(1.2);
    expect(verdict(0.95, 1.18)).toBe("met");
    expect(verdict(1.0, 1.2)).toBe("met");
    expect(verdict(1.21, 1.4)).toBe("**missed**");
    expect(verdict(1.1, 1.3)).toBe("**not settled** by this run");
    expect(verdict(1.2, 1.25)).toBe("**not settled** by this run");
  });

  it("settles nothing without rounds", () => {
    expect(verdict(NaN, NaN)).toBe("**not settled** by this run");
  });
});
