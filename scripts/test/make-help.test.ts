import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readmeText } from "@queuescale/test-support/readme";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The targets the Makefile documents: every `name: … ## what` line, in file order. */
function documentedTargets(): string[] {
  const makefile = readFileSync(`${ROOT}/Makefile`, "utf8");
  return [...makefile.matchAll(/^([a-z0-9-]+):.*## /gm)].map((match) => match[1]!);
}

/** The targets the README's sentence "`make help` lists the targets: `…`." names, in its order. */
function readmeTargets(): string[] {
  const line = readmeText()
    .split("\n")
    .find((candidate) => candidate.startsWith("`make help` lists the targets:"));
  if (!line) throw new Error('README has no line starting with "`make help` lists the targets:"');
  const list = /lists the targets: `([^`]+)`/.exec(line)?.[1];
  if (!list) throw new Error(`README's make help line names no targets: ${line}`);
  return list.split(/\s+/);
}

describe("make help", () => {
  it("prints one line per documented target of the Makefile, in order", () => {
    const printed = execFileSync("make", ["--no-print-directory", "-s", "help"], { cwd: ROOT, encoding: "utf8" })
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/)[0]);
    expect(printed).toEqual(documentedTargets());
    expect(printed).toContain("test");
  });

  it("is what the README says it lists", () => {
    expect(readmeTargets()).toEqual(documentedTargets());
  });
});
