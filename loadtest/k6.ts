/**
 * Runs k6 (built into .tools/bin by scripts/loadtest-tools.sh) on a scenario script and reads back
 * what the harness needs from its summary: whether every threshold held, and the counts.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** k6's exit code when a threshold was crossed (its other failures use other codes). */
const THRESHOLDS_CROSSED = 99;

export interface K6Result {
  exitCode: number;
  thresholdsPassed: boolean;
  /** Messages the producer answered 202 for, summed over every request. */
  accepted: number;
  refused: number;
  requests: number;
  failedRate: number;
  p95Ms: number;
  p99Ms: number;
  durationSeconds: number;
}

interface SummaryMetric {
  count?: number;
  rate?: number;
  value?: number;
  "p(95)"?: number;
  "p(99)"?: number;
}

export function k6Binary(root: string): string {
  return process.env.K6_BIN ?? join(root, ".tools", "bin", "k6");
}

/**
 * Runs `k6 run` with the given environment (passed as `-e`, so the script sees only these), the
 * summary printed on our stdout (or captured) and exported as JSON for reading back.
 */
export async function runK6(options: {
  k6: string;
  script: string;
  env: Record<string, string>;
  summaryFile: string;
  /** Where k6's own output goes; `inherit` prints it as it runs. */
  output: "inherit" | ((chunk: string) => void);
}): Promise<K6Result> {
  if (!existsSync(options.k6)) throw new Error(`k6 not found at ${options.k6}: run scripts/loadtest-tools.sh k6`);
  const args = ["run", "--quiet", "--summary-export", options.summaryFile];
  for (const [name, value] of Object.entries(options.env)) args.push("-e", `${name}=${value}`);
  args.push(options.script);
  const started = performance.now();
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(options.k6, args, {
      env: { ...process.env, K6_NO_USAGE_REPORT: "true" },
      stdio: [
        "ignore",
        options.output === "inherit" ? "inherit" : "pipe",
        options.output === "inherit" ? "inherit" : "pipe",
      ],
    });
    if (typeof options.output === "function") {
      const sink = options.output;
      child.stdout!.setEncoding("utf8").on("data", sink);
      child.stderr!.setEncoding("utf8").on("data", sink);
    }
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const durationSeconds = (performance.now() - started) / 1000;
  if (exitCode !== 0 && exitCode !== THRESHOLDS_CROSSED) {
    throw new Error(`k6 failed with exit code ${exitCode}`);
  }
  const { metrics } = JSON.parse(readFileSync(options.summaryFile, "utf8")) as {
    metrics: Record<string, SummaryMetric | undefined>;
  };
  const duration = metrics["http_req_duration{name:publish}"] ?? metrics.http_req_duration;
  const failed = metrics.http_req_failed;
  return {
    exitCode,
    thresholdsPassed: exitCode === 0,
    accepted: metrics.messages_accepted?.count ?? 0,
    refused: metrics.messages_refused?.count ?? 0,
    requests: metrics.http_reqs?.count ?? 0,
    failedRate: failed?.value ?? failed?.rate ?? 0,
    p95Ms: duration?.["p(95)"] ?? NaN,
    p99Ms: duration?.["p(99)"] ?? NaN,
    durationSeconds,
  };
}
