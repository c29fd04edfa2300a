import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerSettings } from "../src/settings.js";
import { EXAMPLE_HANDLER, WorkerProcess, buildWorker } from "./support/worker-process.js";

const RABBITMQ = { BROKER: "rabbitmq", RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:5672", QUEUE: "never-consumed" };

describe("queuescale-worker settings", () => {
  let dir: string;

  beforeAll(() => {
    buildWorker();
    dir = mkdtempSync(join(tmpdir(), "queuescale-worker-config-"));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function exitOf(env: Record<string, string>, argv: string[] = []) {
    const worker = new WorkerProcess(env, argv);
    const { code } = await worker.exited;
    return { code, stderr: worker.stderr, stdout: worker.logs };
  }

  const cases: [string, Record<string, string>, string[], string][] = [
    ["no BROKER", { HANDLER: EXAMPLE_HANDLER }, [], "BROKER"],
    ["an unknown BROKER", { HANDLER: EXAMPLE_HANDLER, BROKER: "kafka" }, [], "BROKER"],
    ["no HANDLER", { ...RABBITMQ }, [], "HANDLER"],
    ["a HANDLER that does not exist", { ...RABBITMQ, HANDLER: "./no/such/handler.js" }, [], "HANDLER"],
    ["RabbitMQ without RABBITMQ_URL", { BROKER: "rabbitmq", QUEUE: "q", HANDLER: EXAMPLE_HANDLER }, [], "RABBITMQ_URL"],
    ["RabbitMQ without QUEUE", { ...RABBITMQ, QUEUE: "", HANDLER: EXAMPLE_HANDLER }, [], "QUEUE"],
    [
      "NATS without CONSUMER",
      { BROKER: "nats", NATS_URL: "nats://127.0.0.1:4222", STREAM: "S", HANDLER: EXAMPLE_HANDLER },
      [],
      "CONSUMER",
    ],
    ["CONCURRENCY 0", { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER, CONCURRENCY: "0" }, [], "CONCURRENCY"],
    [
      "a flag that is not a number",
      { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER },
      ["--max-attempts", "many"],
      "MAX_ATTEMPTS",
    ],
    [
      "HANDLER_TIMEOUT_SECONDS neither 0 nor at least 0.1",
      { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER, HANDLER_TIMEOUT_SECONDS: "0.001" },
      [],
      "HANDLER_TIMEOUT_SECONDS",
    ],
    [
      "DRAIN_TARGET_SECONDS below 1",
      { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER, DRAIN_TARGET_SECONDS: "0.5" },
      [],
      "DRAIN_TARGET_SECONDS",
    ],
    [
      "DRAIN_TARGET_SECONDS not a number",
      { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER },
      ["--drain-target-seconds", "a minute"],
      "DRAIN_TARGET_SECONDS",
    ],
    ["DECLARE not a boolean", { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER, DECLARE: "sometimes" }, [], "DECLARE"],
    [
      "a bad LISTEN_ADDRESS",
      { ...RABBITMQ, HANDLER: EXAMPLE_HANDLER, LISTEN_ADDRESS: "everywhere" },
      [],
      "LISTEN_ADDRESS",
    ],
    [
      "an unreadable *_FILE",
      { ...RABBITMQ, RABBITMQ_URL: "", HANDLER: EXAMPLE_HANDLER, RABBITMQ_URL_FILE: "/nonexistent/url" },
      [],
      "RABBITMQ_URL_FILE",
    ],
  ];

  it.each(cases)("exits 2 naming the setting for %s", async (_what, env, argv, setting) => {
    const { code, stderr } = await exitOf(env, argv);
    expect(code).toBe(2);
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^queuescale-worker: invalid ${setting}: `));
  });

  it("never echoes a credential from a bad URL", async () => {
    const { code, stderr } = await exitOf({
      ...RABBITMQ,
      HANDLER: EXAMPLE_HANDLER,
      RABBITMQ_URL: "http://user:s3cret@host",
    });
    expect(code).toBe(2);
    expect(stderr).toContain("RABBITMQ_URL");
    expect(stderr).not.toContain("s3cret");
  });

  it("reads a setting from the file named by <SETTING>_FILE", async () => {
    const file = join(dir, "concurrency");
    writeFileSync(file, "zero\n");
    const { code, stderr } = await exitOf({ ...RABBITMQ, HANDLER: EXAMPLE_HANDLER, CONCURRENCY_FILE: file });
    expect(code).toBe(2);
    expect(stderr).toContain("invalid CONCURRENCY");
  });

  it("rejects a handler module without a handle function", async () => {
    const file = join(dir, "not-a-handler.mjs");
    writeFileSync(file, "export const something = 1;\n");
    const { code, stderr } = await exitOf({ ...RABBITMQ, HANDLER: file });
    expect(code).toBe(2);
    expect(stderr).toContain("invalid HANDLER: the module exports no `handle` function");
  });

  it("describes every setting for --help", () => {
    for (const [setting, schema] of Object.entries(workerSettings)) expect(schema.description, setting).toBeTruthy();
  });
});
