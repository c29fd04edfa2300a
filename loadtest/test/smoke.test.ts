/**
 * The load test's smoke run: k6 for a few seconds against the producer API of the real local stack
 * (producer, exporter, local autoscaler with real workers, the local RabbitMQ), then the same checks
 * as `make loadtest`: thresholds held and every accepted message was processed, backlog back to 0.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { uniqueName } from "@queuescale/test-support/names";
import { ROOT } from "../../scripts/stack/index.js";
import { passed, runLoadTest, type LoadTestResult } from "../run.js";

const SMOKE_SECONDS = 5;
const REQUESTS_PER_SECOND = 10;
const BATCH = 20;

describe("load test smoke run (k6 → producer API → RabbitMQ → workers)", () => {
  it("publishes for a few seconds within the thresholds and loses nothing", { timeout: 110_000 }, async () => {
    const out = join(ROOT, ".tmp", uniqueName("loadtest-smoke"));
    let k6Output = "";
    let result: LoadTestResult;
    try {
      result = await runLoadTest({
        scenario: "smoke",
        broker: "rabbitmq",
        // A vhost of this run's own: the test never shares the overlay's queue with a demo.
        uniqueSuffix: uniqueName("smoke"),
        out,
        workMs: 5,
        concurrency: 16,
        maxReplicas: 3,
        timeScale: 10,
        drainSeconds: 45,
        k6Env: { SMOKE_DURATION: `${SMOKE_SECONDS}s`, SOAK_RATE: String(REQUESTS_PER_SECOND), BATCH: String(BATCH) },
        output: (chunk) => {
          k6Output += chunk;
        },
      });
    } catch (error) {
      throw new Error(`${String(error)}\nk6 output:\n${k6Output}`, { cause: error });
    }
    const context = `k6 output:\n${k6Output}\nresult: ${JSON.stringify(result, undefined, 2)}`;
    expect(result.k6.thresholdsPassed, context).toBe(true);
    expect(result.k6.refused, context).toBe(0);
    // Every request of the constant-arrival-rate run was made and every message of it accepted
    // (k6 may start one request more or fewer at the edges of the window).
    expect(result.k6.requests, context).toBeGreaterThanOrEqual(SMOKE_SECONDS * REQUESTS_PER_SECOND - 2);
    expect(result.k6.accepted, context).toBe(result.k6.requests * BATCH);
    expect(result.processed, context).toBe(result.k6.accepted);
    expect(result.lost, context).toBe(0);
    expect(result.finalBacklog, context).toBe(0);
    expect(passed(result), context).toBe(true);
    // Kept for reading when an assertion fails; removed when everything held.
    rmSync(out, { recursive: true, force: true });
  });
});
