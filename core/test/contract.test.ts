import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import {
  CONTRACT_METRICS,
  DEPTH_METRICS,
  EXPORTER_METRICS,
  IDENTITY_LABELS,
  POLL_ERROR_REASONS,
  RESERVED_LABELS,
  SOURCE_METRICS,
  WORKER_METRICS,
} from "@queuescale/core";
import { codeNames, readmeTable } from "@queuescale/test-support/readme";

describe("metric contract", () => {
  it("is documented row for row in the README metric table", () => {
    const documented = readmeTable("metrics").map(([name, type, labels]) => ({
      name: codeNames(name!)[0],
      type,
      labels: codeNames(labels!).sort(),
    }));
    const contract = CONTRACT_METRICS.map((spec) => ({
      name: spec.name,
      type: spec.type,
      labels: [...spec.labels].sort(),
    }));
    expect(documented).toEqual(contract);
  });

  it("has every poll failure reason, and no other, documented in the README", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const paragraph = /^The `reason` of `queuescale_source_poll_errors_total` is one of ([^]*?)\n\n/m.exec(readme)?.[1];
    expect(paragraph).toBeDefined();
    // Settings named in it are upper case; reasons are lower case.
    const documented = [...paragraph!.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]);
    expect(new Set(documented)).toEqual(new Set(POLL_ERROR_REASONS));
  });

  it("follows Prometheus naming: prefix, base units, _total counters", () => {
    for (const spec of CONTRACT_METRICS) {
      expect(spec.name).toMatch(/^queuescale_[a-z_]+$/);
      if (spec.type === "counter") expect(spec.name).toMatch(/_total$/);
      else expect(spec.name).not.toMatch(/_total$/);
      if (/_(duration|age)_/.test(spec.name)) expect(spec.name).toMatch(/_seconds$/);
    }
    expect(SOURCE_METRICS.lastSuccess.name).toMatch(/_timestamp_seconds$/);
  });

  it("never uses a label Prometheus or the adapter gives its own meaning", () => {
    const used = new Set(CONTRACT_METRICS.flatMap((spec) => spec.labels));
    for (const reserved of RESERVED_LABELS) expect(used.has(reserved)).toBe(false);
  });

  it("labels the worker's own families with its queue's identity, as the depth series", () => {
    for (const spec of Object.values(WORKER_METRICS)) {
      const identity = spec.labels.filter((label) => label !== "outcome");
      expect(identity, spec.name).toEqual(DEPTH_METRICS.depth.labels);
    }
    expect(WORKER_METRICS.messages.labels).toContain("outcome");
    expect(WORKER_METRICS.processing.type).toBe("histogram");
    expect(WORKER_METRICS.messageWait.name).toMatch(/_seconds$/);
    expect(EXPORTER_METRICS.map((spec) => spec.name)).not.toContain(WORKER_METRICS.connected.name);
  });

  it("labels depth series with broker plus every broker's identity labels", () => {
    for (const spec of Object.values(DEPTH_METRICS)) {
      expect([...spec.labels].sort()).toEqual(["broker", ...Object.values(IDENTITY_LABELS).flat()].sort());
    }
  });
});
