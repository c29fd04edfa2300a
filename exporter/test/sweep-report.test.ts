import { describe, expect, it } from "vitest";
import { TARGETS, ratioVerdict, ratioWithInterval } from "../bench/sweep-report.js";

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

  it("writes the ratio with its interval, the same in the report and on the console", () => {
    expect(ratioWithInterval({ pollRatio: 1.1449, pollRatioInterval: { low: 1.06, high: 1.306 } })).toBe(
      "1.14× [1.06–1.31]",
    );
    expect(ratioWithInterval({ pollRatio: NaN, pollRatioInterval: { low: NaN, high: NaN } })).toBe("–");
  });
});
