import { describe, expect, it } from "vitest";
import { DEPTH_METRICS, EXPORTER_METRICS, IDENTITY_LABELS, RESERVED_LABELS, SOURCE_METRICS } from "@queuescale/core";
import { codeNames, readmeTable } from "./support/readme.js";

describe("metric contract", () => {
  it("is documented row for row in the README metric table", () => {
    const documented = readmeTable("metrics").map(([name, type, labels]) => ({
      name: codeNames(name!)[0],
      type,
      labels: codeNames(labels!).sort(),
    }));
    const contract = EXPORTER_METRICS.map((spec) => ({
      name: spec.name,
      type: spec.type,
      labels: [...spec.labels].sort(),
    }));
    expect(documented).toEqual(contract);
  });

  it("follows Prometheus naming: prefix, base units, _total counters", () => {
    for (const spec of EXPORTER_METRICS) {
      expect(spec.name).toMatch(/^queuescale_[a-z_]+$/);
      if (spec.type === "counter") expect(spec.name).toMatch(/_total$/);
      else expect(spec.name).not.toMatch(/_total$/);
      if (/_(duration|age)_/.test(spec.name)) expect(spec.name).toMatch(/_seconds$/);
    }
    expect(SOURCE_METRICS.lastSuccess.name).toMatch(/_timestamp_seconds$/);
  });

  it("never uses a label Prometheus or the adapter gives its own meaning", () => {
    const used = new Set(EXPORTER_METRICS.flatMap((spec) => spec.labels));
    for (const reserved of RESERVED_LABELS) expect(used.has(reserved)).toBe(false);
  });

  it("labels depth series with broker plus every broker's identity labels", () => {
    for (const spec of Object.values(DEPTH_METRICS)) {
      expect([...spec.labels].sort()).toEqual(["broker", ...Object.values(IDENTITY_LABELS).flat()].sort());
    }
  });
});
