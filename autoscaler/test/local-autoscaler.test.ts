import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { createLogger, listen, closeServer } from "@queuescale/core";
import { eventually } from "@queuescale/test-support/names";
import { DEFAULT_FLAGS, parseHpa } from "../src/engine/index.js";
import { LocalAutoscaler } from "../src/local/local-autoscaler.js";
import { ScrapeReader } from "../src/local/metric-reader.js";
import { createStatusApp } from "../src/local/status-server.js";
import { WorkerPool } from "../src/local/worker-pool.js";

const FAKE_WORKER = fileURLToPath(new URL("./fixtures/fake-worker.mjs", import.meta.url));
const selector = { matchLabels: { broker: "rabbitmq", queue: "fake" } };
const hpa = parseHpa({
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "fake-worker" },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "fake-worker" },
    minReplicas: 1,
    maxReplicas: 6,
    metrics: [
      {
        type: "External",
        external: {
          metric: { name: "queuescale_queue_depth", selector },
          target: { type: "AverageValue", averageValue: "100" },
        },
      },
    ],
    behavior: {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        policies: [{ type: "Pods", value: 4, periodSeconds: 1 }],
        selectPolicy: "Max",
      },
      scaleDown: {
        stabilizationWindowSeconds: 1,
        policies: [{ type: "Percent", value: 100, periodSeconds: 1 }],
        selectPolicy: "Min",
      },
    },
  },
});

/** The External metric as the test wants it: a number, or no series at all. */
let backlog: number | null = 0;
let metricsServer: Server;
let metricsUrl: string;
const workDir = mkdtempSync(join(tmpdir(), "qs-local-"));

beforeAll(async () => {
  metricsServer = createServer((_request, response) => {
    response.end(
      backlog === null ? "" : `queuescale_queue_depth{broker="rabbitmq",vhost="/",queue="fake"} ${backlog}\n`,
    );
  });
  await new Promise<void>((resolve) => metricsServer.listen(0, "127.0.0.1", resolve));
  metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
});
afterAll(() => {
  metricsServer.close();
  rmSync(workDir, { recursive: true, force: true });
});

function newPool(env: NodeJS.ProcessEnv = {}, gracePeriodMs = 5_000): WorkerPool {
  return new WorkerPool({
    command: [process.execPath, FAKE_WORKER],
    env: { ...process.env, ...env },
    logDir: join(workDir, `logs-${Math.random().toString(36).slice(2)}`),
    gracePeriodMs,
  });
}

describe("local autoscaler with real worker processes", () => {
  it("scales to ceil(backlog/target), holds while the metric is missing, and drains workers on scale-down", async () => {
    const pool = newPool({ FAKE_DRAIN_MS: "200" });
    const autoscaler = new LocalAutoscaler({
      spec: hpa,
      queries: [{ name: "queuescale_queue_depth", selector }],
      reader: new ScrapeReader(() => [metricsUrl, ...pool.metricsUrls()]),
      pool,
      flags: DEFAULT_FLAGS,
      syncPeriodMs: 250,
      sampleIntervalMs: 200,
      logger: createLogger("test", "silent"),
    });
    try {
      backlog = 0;
      await autoscaler.start();
      await eventually(() => (pool.readyReplicas === 1 ? true : undefined), { what: "one ready worker" });

      backlog = 350; // ceil(350 / 100) = 4
      await eventually(() => (pool.readyReplicas === 4 ? true : undefined), { what: "four ready workers" });
      expect(autoscaler.desiredReplicas).toBe(4);

      // An outage: the series vanish. The controller cannot compute a proposal and keeps 4.
      backlog = null;
      const before = autoscaler.decisions.length;
      await eventually(() => (autoscaler.decisions.length >= before + 4 ? true : undefined), { what: "four syncs" });
      const during = autoscaler.decisions.slice(before);
      expect(during.every((decision) => decision.desiredReplicas === 4)).toBe(true);
      expect(during.at(-1)!.reason).toMatch(/FailedComputeMetricsReplicas/);
      expect(pool.replicas).toBe(4);

      backlog = 0; // back to minReplicas once the 1 s window has passed
      await eventually(() => (pool.replicas === 1 ? true : undefined), { what: "scale down to one" });
      const stopped = await eventually(
        () => {
          const exited = pool.list().filter((worker) => worker.state === "exited");
          return exited.length === 3 ? exited : undefined;
        },
        { what: "three drained workers" },
      );
      // Stopped with SIGTERM and drained: exit code 0, not killed.
      expect(stopped.map((worker) => worker.exitCode)).toEqual([0, 0, 0]);
      const log = pool.logSince(stopped[0]!.id, 0)!.lines.join("\n");
      expect(log).toContain("SIGTERM received, draining");
      expect(log).toContain("drained");
    } finally {
      await autoscaler.stop();
    }
    expect(pool.replicas).toBe(0);
  });

  it("kills a worker that does not exit within the grace period", async () => {
    const pool = newPool({ FAKE_IGNORE_SIGTERM: "1" }, 500);
    await pool.scaleTo(1);
    await eventually(() => (pool.readyReplicas === 1 ? true : undefined), { what: "a ready worker" });
    await pool.stopAll();
    expect(pool.list()[0]!.exitSignal).toBe("SIGKILL");
  });
});

describe("status page", () => {
  let browser: Browser | undefined;
  afterAll(async () => browser?.close());

  it("loads, updates its chart, and opens a worker's log", async () => {
    const pool = newPool();
    const autoscaler = new LocalAutoscaler({
      spec: hpa,
      queries: [{ name: "queuescale_queue_depth", selector }],
      reader: new ScrapeReader(() => [metricsUrl]),
      pool,
      flags: DEFAULT_FLAGS,
      syncPeriodMs: 300,
      sampleIntervalMs: 200,
      logger: createLogger("test", "silent"),
    });
    backlog = 120;
    const app = createStatusApp(autoscaler, pool, {
      hpaName: "fake-worker",
      metric: "queuescale_queue_depth",
      target: "AverageValue 100",
      minReplicas: 1,
      maxReplicas: 6,
      syncPeriodSeconds: 0.3,
      source: "test",
    });
    const { server, port } = await listen(app, { host: "127.0.0.1", port: 0 });
    try {
      await autoscaler.start();
      browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector("#chart canvas");
      const firstCount = Number(await page.getAttribute("#chart", "data-points"));
      await page.waitForFunction(
        (count) => Number(document.getElementById("chart")!.dataset.points) > count + 2,
        firstCount,
      );
      await page.waitForFunction(() => document.getElementById("value")!.textContent === "120");
      // ceil(120 / 100) = 2 workers, each with a log button.
      await page.waitForFunction(() => document.querySelectorAll("#workers button[data-log]").length === 2);
      await page.click("#workers button[data-log]");
      await page.waitForFunction(() =>
        /fake worker \d+ (listening|tick)/.test(document.getElementById("log")!.textContent ?? ""),
      );
      expect(await page.textContent("#decisions tbody")).toMatch(/above target/);
      expect(pageErrors).toEqual([]);
    } finally {
      await autoscaler.stop();
      await closeServer(server);
    }
  });
});
