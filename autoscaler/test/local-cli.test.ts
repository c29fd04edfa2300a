import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { defaultWorkerCommand } from "../src/local/worker-command.js";

const BIN = fileURLToPath(new URL("../dist/local/main.js", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/hpa.yaml", import.meta.url));

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { input, encoding: "utf8", timeout: 30_000 });
}

describe("queuescale-local command line", () => {
  it("prints its settings with --help", () => {
    const result = run(["--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("--time-scale");
    expect(result.stdout).toContain("--max-replicas");
  });

  it("exits 2 with one line naming the setting for a bad HPA, before starting any worker", () => {
    const missing = run(["--hpa", "/nonexistent/hpa.yaml"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split("\n")).toEqual(["queuescale-local: invalid HPA: cannot read it (ENOENT)"]);

    const noHpa = run(["--hpa", "-"], "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n");
    expect(noHpa.status).toBe(2);
    expect(noHpa.stderr).toMatch(/^queuescale-local: invalid --hpa: holds no HorizontalPodAutoscaler\n$/);

    const badSpec = run(["--hpa", "-"], "kind: HorizontalPodAutoscaler\nspec:\n  maxReplicas: 0\n");
    expect(badSpec.status).toBe(2);
    expect(badSpec.stderr).toMatch(/invalid HPA spec\.maxReplicas/);
  });

  it("rejects a bad number setting", () => {
    const result = run(["--hpa", FIXTURE, "--time-scale", "0.5"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^queuescale-local: invalid TIME_SCALE: /);
  });
});

describe("the default worker command", () => {
  it("is the built queuescale-worker, found through the installed package", () => {
    const [node, script] = defaultWorkerCommand().split(" ");
    expect(node).toBe(process.execPath);
    expect(script).toMatch(/worker[\\/]dist[\\/]main\.js$/);
    expect(existsSync(script!)).toBe(true);
  });
});
