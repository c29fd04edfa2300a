import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { MONITORING_DIR, PATHS } from "../src/generated.js";

const run = promisify(execFile);
const RULES_TEST = "rules/queuescale.rules.test.yaml";
const scratch = mkdtempSync(join(tmpdir(), "queuescale-rules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}
interface RulesTestFile {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

async function promtool(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("promtool", args, { cwd: MONITORING_DIR });
    return stdout + stderr;
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; code?: string };
    if (failure.code === "ENOENT") {
      throw new Error("promtool is missing: run `make tools` (scripts/tools.sh)", { cause: error });
    }
    throw new Error(`promtool ${args.join(" ")} failed:\n${failure.stdout ?? ""}${failure.stderr ?? ""}`, {
      cause: error,
    });
  }
}

describe("Prometheus rules", () => {
  const rules = parse(readFileSync(`${MONITORING_DIR}${PATHS.rules}`, "utf8")) as RuleFile;
  const alerts = rules.groups.flatMap((group) => group.rules.filter((rule) => rule.alert).map((rule) => rule.alert!));

  it("promtool check rules accepts the rule file and the PrometheusRule's groups", async () => {
    expect(await promtool(["check", "rules", PATHS.rules])).toContain("SUCCESS");
    const operator = parse(readFileSync(`${MONITORING_DIR}${PATHS.prometheusRule}`, "utf8")) as { spec: unknown };
    const extracted = join(scratch, "prometheusrule-spec.yaml");
    writeFileSync(extracted, stringify(operator.spec));
    expect(await promtool(["check", "rules", extracted])).toContain("SUCCESS");
  });

  it("has the five alerts of the runbook", () => {
    expect(alerts.sort()).toEqual([
      "QueuescaleAutoscalerAtMaxReplicas",
      "QueuescaleBacklogGrowing",
      "QueuescaleBacklogWithoutConsumers",
      "QueuescaleDeadLetters",
      "QueuescaleDepthSourceDown",
    ]);
  });

  it("every alert has a promtool case where it fires and one where it stays silent", () => {
    const tests = parse(readFileSync(`${MONITORING_DIR}${RULES_TEST}`, "utf8")) as RulesTestFile;
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const alert of alerts) {
      const own = cases.filter((entry) => entry.alertname === alert);
      expect(
        own.some((entry) => entry.exp_alerts.length > 0),
        `${alert} fires`,
      ).toBe(true);
      expect(
        own.some((entry) => entry.exp_alerts.length === 0),
        `${alert} stays silent`,
      ).toBe(true);
    }
  });

  it("promtool test rules passes", async () => {
    expect(await promtool(["test", "rules", RULES_TEST])).toContain("SUCCESS");
  });
});
