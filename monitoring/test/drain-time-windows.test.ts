import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_RULE_WINDOWS } from "../../autoscaler/src/sim/drain/model.js";
import { drainTimeRecords, drainTimeWindows } from "../src/drain-time-windows.js";
import { MONITORING_DIR, PATHS } from "../src/generated.js";

const RULES = readFileSync(`${MONITORING_DIR}${PATHS.rules}`, "utf8");
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

describe("drain-time rule windows", () => {
  it("queuescale-sim drain models the shipped rules with their own windows by default", () => {
    expect(DEFAULT_RULE_WINDOWS).toEqual(drainTimeWindows(RULES));
  });

  it("each record's name ends with the window its expression uses", () => {
    for (const { record, seconds } of Object.values(drainTimeRecords(RULES))) {
      const [, n, unit] = /(\d+)([smhd])$/.exec(record) ?? [];
      expect(Number(n) * UNIT_SECONDS[unit!]!, record).toBe(seconds);
    }
  });

  it("refuses a completion rate and a backlog derivative over different windows", () => {
    const other = `[${drainTimeWindows(RULES).arrivals + 1}s]`;
    const mismatched = RULES.replace(/(rate\(queuescale_worker_messages_total)\[\w+\]/, `$1${other}`);
    expect(mismatched).not.toBe(RULES);
    expect(() => drainTimeWindows(mismatched)).toThrow(/must share their window/);
  });
});
