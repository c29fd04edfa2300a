import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * docs/autoscaler.md shows commands with their real output. This runs every example block that
 * calls queuescale-sim and checks that each line it prints is in the document.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "autoscaler/dist/sim/main.js");
const DOC = readFileSync(join(ROOT, "docs/autoscaler.md"), "utf8");
let dir: string;

const blocks = [...DOC.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((match) => ({ lang: match[1]!, body: match[2]! }));
const examples = blocks.filter(
  (block) => block.lang === "sh" && /queuescale-sim (decide|replay|burst|drain)/.test(block.body),
);
const shownOutput = blocks
  .filter((block) => block.lang !== "sh")
  .map((block) => block.body)
  .join("\n");

beforeAll(() => {
  execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "autoscaler"], { cwd: ROOT, stdio: "pipe" });
  dir = mkdtempSync(join(tmpdir(), "queuescale-sim-docs-"));
  // The examples use paths relative to the repository root.
  symlinkSync(join(ROOT, "autoscaler"), join(dir, "autoscaler"));
  symlinkSync(join(ROOT, "k8s"), join(dir, "k8s"));
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("docs/autoscaler.md", () => {
  it("has examples for decide, replay, burst and drain", () => {
    const commands = examples.map((block) => /queuescale-sim (\w+)/.exec(block.body)![1]);
    expect(new Set(commands)).toEqual(new Set(["decide", "replay", "burst", "drain"]));
  });

  it.each(examples.map((block, index) => [index, block.body] as const))(
    "example %i prints what the document shows",
    (_index, body) => {
      const script = body.replaceAll("npx queuescale-sim", `node ${JSON.stringify(BIN)}`);
      const stdout = execFileSync("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, encoding: "utf8" });
      const lines = stdout.split("\n").filter((line) => line.trim() !== "");
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(shownOutput).toContain(line);
    },
  );
});
