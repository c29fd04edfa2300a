import { describe, expect, it } from "vitest";
import { codeNames, readmeTable } from "@queuescale/test-support/readme";
import { exporterSettings } from "../src/settings.js";

describe("exporter settings", () => {
  it("are documented in the README configuration table, one row each", () => {
    const documented = readmeTable("settings:exporter").map(([setting]) => codeNames(setting!)[0]);
    expect([...documented].sort()).toEqual(Object.keys(exporterSettings).sort());
  });

  it("each have a description for --help", () => {
    for (const [setting, schema] of Object.entries(exporterSettings)) {
      expect(schema.description, setting).toBeTruthy();
    }
  });
});
