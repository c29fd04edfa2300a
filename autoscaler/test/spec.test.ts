import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCALE_DOWN_RULES,
  DEFAULT_SCALE_UP_RULES,
  HpaSpecError,
  parseHpa,
  quantityValue,
  toMilli,
} from "../src/engine/index.js";

const fixture = parse(readFileSync(new URL("./fixtures/hpa.yaml", import.meta.url), "utf8")) as Record<string, unknown>;

function specWith(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    maxReplicas: 10,
    metrics: [
      {
        type: "External",
        external: { metric: { name: "depth" }, target: { type: "AverageValue", averageValue: 100 } },
      },
    ],
    ...extra,
  };
}

function errorOf(input: unknown): HpaSpecError {
  try {
    parseHpa(input);
  } catch (error) {
    if (error instanceof HpaSpecError) return error;
    throw error;
  }
  throw new Error("parseHpa accepted the input");
}

describe("quantities", () => {
  it("reads decimal, binary and exponent suffixes", () => {
    expect(quantityValue("100")).toBe(100);
    expect(quantityValue("1.5k")).toBe(1500);
    expect(quantityValue("250m")).toBe(0.25);
    expect(quantityValue("2Ki")).toBe(2048);
    expect(quantityValue("1e3")).toBe(1000);
    expect(quantityValue(42)).toBe(42);
    expect(quantityValue("ten")).toBeUndefined();
    expect(quantityValue("1.5 k")).toBeUndefined();
  });

  it("works in milli-units rounded up, like Quantity.MilliValue", () => {
    expect(toMilli(0.1)).toBe(100); // 0.1 × 1000 is 100.00000000000001 in binary; still 100
    expect(toMilli(100)).toBe(100_000);
    expect(toMilli(0.0001)).toBe(1); // a tenth of a milli rounds up to 1
  });
});

describe("parseHpa", () => {
  it("reads the sample manifest: External AverageValue 100, scale-up Max of +100 %/+4 per 15 s, scale-down Min of −10 %/60 s after 300 s", () => {
    const spec = parseHpa(fixture);
    expect(spec.name).toBe("queuescale-worker");
    expect(spec.minReplicas).toBe(1);
    expect(spec.maxReplicas).toBe(50);
    expect(spec.metrics).toEqual([
      { type: "External", name: "queuescale_queue_depth", target: { type: "AverageValue", milli: 100_000 } },
    ]);
    expect(spec.behavior?.scaleUp).toEqual({
      stabilizationWindowSeconds: 0,
      selectPolicy: "Max",
      policies: [
        { type: "Percent", value: 100, periodSeconds: 15 },
        { type: "Pods", value: 4, periodSeconds: 15 },
      ],
      tolerance: undefined,
    });
    expect(spec.behavior?.scaleDown).toEqual({
      stabilizationWindowSeconds: 300,
      selectPolicy: "Min",
      policies: [{ type: "Percent", value: 10, periodSeconds: 60 }],
      tolerance: undefined,
    });
  });

  it("accepts the spec alone and defaults minReplicas to 1", () => {
    const spec = parseHpa(specWith({}));
    expect(spec.minReplicas).toBe(1);
    expect(spec.name).toBeUndefined();
  });

  it("keeps an absent behavior absent: the controller then takes its legacy path", () => {
    expect(parseHpa(specWith({})).behavior).toBeUndefined();
  });

  it("fills a partial behavior with the API defaults (scale-up 0 s, Max of Pods 4/15 s and Percent 100/15 s; scale-down Percent 100/15 s)", () => {
    const spec = parseHpa(specWith({ behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } }));
    expect(spec.behavior?.scaleUp).toEqual(DEFAULT_SCALE_UP_RULES);
    expect(spec.behavior?.scaleDown).toEqual({ ...DEFAULT_SCALE_DOWN_RULES, stabilizationWindowSeconds: 60 });
    expect(DEFAULT_SCALE_UP_RULES.stabilizationWindowSeconds).toBe(0);
    expect(DEFAULT_SCALE_DOWN_RULES.policies).toEqual([{ type: "Percent", value: 100, periodSeconds: 15 }]);
  });

  it("leaves the scale-down window to the controller flag when only scaleUp is given", () => {
    const spec = parseHpa(specWith({ behavior: { scaleUp: { selectPolicy: "Disabled" } } }));
    expect(spec.behavior?.scaleUp.selectPolicy).toBe("Disabled");
    expect(spec.behavior?.scaleUp.policies).toEqual(DEFAULT_SCALE_UP_RULES.policies);
    expect(spec.behavior?.scaleDown.stabilizationWindowSeconds).toBeUndefined();
  });

  it("reads per-direction tolerances as quantities", () => {
    const spec = parseHpa(specWith({ behavior: { scaleUp: { tolerance: "50m" }, scaleDown: { tolerance: 0.2 } } }));
    expect(spec.behavior?.scaleUp.tolerance).toBe(0.05);
    expect(spec.behavior?.scaleDown.tolerance).toBe(0.2);
  });

  it("names the bad field", () => {
    expect(errorOf({ spec: { metrics: [] } }).message).toMatch(/^spec\.maxReplicas: /);
    const badTarget = structuredClone(fixture) as { spec: { metrics: { external: { target: unknown } }[] } };
    badTarget.spec.metrics[0]!.external.target = { type: "AverageValue", averageValue: "lots" };
    expect(errorOf(badTarget).message).toBe(
      'spec.metrics[0].external.target.averageValue: target.averageValue must be a quantity such as 100 or "1.5k"',
    );
    expect(errorOf(specWith({ metrics: [{ type: "Resource", resource: { name: "cpu" } }] })).path).toBe(
      "metrics[0].type",
    );
    expect(errorOf(specWith({ behavior: { scaleUp: { policies: [] } } })).message).toBe(
      "behavior.scaleUp.policies: policies must list at least one policy",
    );
    expect(errorOf(specWith({ behavior: { scaleDown: { selectPolicy: "Maximum" } } })).path).toBe(
      "behavior.scaleDown.selectPolicy",
    );
    expect(errorOf(specWith({ minReplicas: 5, maxReplicas: 2 })).path).toBe("maxReplicas");
    expect(errorOf({ apiVersion: "autoscaling/v1", kind: "HorizontalPodAutoscaler", spec: {} }).path).toBe(
      "apiVersion",
    );
    expect(
      errorOf(
        specWith({
          minReplicas: 0,
          metrics: [
            { type: "Pods", pods: { metric: { name: "m" }, target: { type: "AverageValue", averageValue: 1 } } },
          ],
        }),
      ).path,
    ).toBe("minReplicas");
  });
});
