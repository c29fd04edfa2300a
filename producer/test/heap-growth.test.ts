import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { limitHeapGrowth } from "../src/heap-growth.js";

const LOAD = fileURLToPath(new URL("./support/promoting-load.ts", import.meta.url));

/** The largest heap the promoting load reached in a fresh process, with or without the limit. */
async function peakHeap(mode: "limit" | "none"): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", LOAD, mode], {
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  return Number(stdout.split(" ")[0]);
}

describe("heap growth", () => {
  it("keeps a heap that promotes garbage steadily much smaller than V8's default does", async () => {
    const [unlimited, limited] = await Promise.all([peakHeap("none"), peakHeap("limit")]);
    expect(unlimited).toBeGreaterThan(0);
    expect(limited).toBeLessThan(unlimited * 0.75);
  });

  it("leaves a growth the operator chose alone", () => {
    expect(limitHeapGrowth(["--heap-growing-percent=80"], "")).toBe(false);
    expect(limitHeapGrowth([], "--max-old-space-size=512 --heap_growing_percent=80")).toBe(false);
  });
});
