import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_URL, PROMETHEUS_URL, RabbitScenario, countsIn } from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";
import { findSamples, parseExposition, scrape } from "@queuescale/test-support/scrape";
import { exporterSettings } from "../src/settings.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const SECRET = "Sup3r-Secret-pw";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children: ChildProcess[] = [];

beforeAll(() => {
  // The test runs the built command as a user would; build the exporter and what it depends on.
  execFileSync(fileURLToPath(new URL("node_modules/.bin/tsc", `file://${ROOT}`)), ["-b", "exporter"], {
    cwd: ROOT,
    stdio: "pipe",
  });
}, 120_000);

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

function run(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env } });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the command in the background; resolves once it logs where it listens. */
async function start(env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN], { env: { PATH: process.env.PATH ?? "", ...env } });
  children.push(child);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const port = await eventually(
    () => {
      for (const line of output.split("\n")) {
        if (!line.includes("queuescale-exporter started")) continue;
        return Number((JSON.parse(line) as { listen: string }).listen.split(":").pop());
      }
      return undefined;
    },
    { what: "the started log line" },
  );
  return { child, baseUrl: `http://127.0.0.1:${port}`, exited, output: () => output };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("queuescale-exporter command", () => {
  it("--help lists every setting and exits 0", async () => {
    const result = await run(["--help"], {});
    expect(result.code).toBe(0);
    for (const setting of Object.keys(exporterSettings)) expect(result.stdout).toContain(setting);
  });

  const PROMETHEUS = { RABBITMQ_PROMETHEUS_URL: "http://127.0.0.1:15692" };
  const SCALER = { SCALER_LISTEN_ADDRESS: "127.0.0.1:0" };
  const badSettings: [string, string[], Record<string, string>][] = [
    ["POLL_INTERVAL_SECONDS", [], { ...PROMETHEUS, POLL_INTERVAL_SECONDS: "soon" }],
    ["RABBITMQ_SOURCE", ["--rabbitmq-source", "sometimes"], PROMETHEUS],
    ["RABBITMQ_QUEUES", [], { RABBITMQ_SOURCE: "amqp", RABBITMQ_URL: `amqp://admin:${SECRET}@rabbit:5672` }],
    ["RABBITMQ_PROMETHEUS_URL", [], { RABBITMQ_SOURCE: "prometheus", RABBITMQ_URL: "amqp://rabbit:5672" }],
    ["RABBITMQ_MANAGEMENT_URL", [], { RABBITMQ_MANAGEMENT_URL: `ftp://admin:${SECRET}@rabbit:15672` }],
    ["RABBITMQ_URL", [], { RABBITMQ_URL: `http://admin:${SECRET}@rabbit:5672` }],
    ["broker address", [], {}],
    // RE2 syntax: no backreferences, no lookaround.
    ["QUEUE_INCLUDE", [], { ...PROMETHEUS, QUEUE_INCLUDE: "^(a)\\1$" }],
    ["QUEUE_EXCLUDE", ["--queue-exclude", "^(?!orders)"], PROMETHEUS],
    ["MAX_RESPONSE_BYTES", [], { ...PROMETHEUS, MAX_RESPONSE_BYTES: "1000" }],
    ["SCALER_LISTEN_ADDRESS", [], { ...PROMETHEUS, SCALER_LISTEN_ADDRESS: "9424" }],
    ["SCALER_LISTEN_ADDRESS", ["--scaler-listen-address", "0.0.0.0:99999"], PROMETHEUS],
    ["SCALER_TLS_CERT_FILE", [], { ...PROMETHEUS, SCALER_TLS_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt" }],
    [
      "SCALER_TLS_KEY_FILE",
      [],
      { ...PROMETHEUS, ...SCALER, SCALER_TLS_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt" },
    ],
    ["SCALER_TLS_CERT_FILE", [], { ...PROMETHEUS, ...SCALER, SCALER_TLS_KEY_FILE: "/etc/hostname" }],
    [
      "SCALER_TLS_CERT_FILE",
      [],
      {
        ...PROMETHEUS,
        ...SCALER,
        SCALER_TLS_CERT_FILE: "/nonexistent/tls.crt",
        SCALER_TLS_KEY_FILE: "/nonexistent/tls.key",
      },
    ],
    [
      "SCALER_TLS_KEY_FILE",
      [],
      {
        ...PROMETHEUS,
        ...SCALER,
        SCALER_TLS_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt",
        SCALER_TLS_KEY_FILE: "/etc/hostname",
      },
    ],
    ["SCALER_TLS_CLIENT_CA_FILE", [], { ...PROMETHEUS, ...SCALER, SCALER_TLS_CLIENT_CA_FILE: "/etc/hostname" }],
  ];

  it.each(badSettings)("a bad %s exits 2 with one stderr line naming it, no credential", async (setting, args, env) => {
    const result = await run(args, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.split("\n").filter((line) => line.length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(setting);
    expect(result.stderr).not.toContain(SECRET);
  });

  it("keeps running with an unreachable broker at start: /readyz 503, up 0, no credential anywhere", async () => {
    const env = {
      LISTEN_ADDRESS: "127.0.0.1:0",
      POLL_INTERVAL_SECONDS: "1",
      LOG_LEVEL: "debug",
      RABBITMQ_PROMETHEUS_URL: `http://admin:${SECRET}@127.0.0.1:${await closedPort()}`,
      RABBITMQ_MANAGEMENT_URL: `http://admin:${SECRET}@127.0.0.1:${await closedPort()}`,
      RABBITMQ_URL: `amqp://admin:${SECRET}@127.0.0.1:${await closedPort()}`,
      RABBITMQ_QUEUES: "jobs",
    };
    const { child, baseUrl, exited, output } = await start(env);
    const samples = await eventually(
      async () => {
        const samples = await scrape(baseUrl);
        const errors = findSamples(samples, "queuescale_source_poll_errors_total", {
          source: "auto",
          reason: "connection",
        });
        // Several polls, each trying every candidate, so the retry path has logged too.
        return (errors[0]?.value ?? 0) >= 3 ? samples : undefined;
      },
      { what: "repeated failed polls" },
    );
    expect(findSamples(samples, "queuescale_source_up", { broker: "rabbitmq", source: "auto" })[0]?.value).toBe(0);
    expect(findSamples(samples, "queuescale_queue_depth")).toEqual([]);
    const readyz = await fetch(`${baseUrl}/readyz`);
    expect(readyz.status).toBe(503);
    const metricsText = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(child.exitCode).toBeNull();

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output()).toContain("depth source poll failed");
    expect(output()).not.toContain(SECRET);
    expect(metricsText).not.toContain(SECRET);
    expect(JSON.stringify(await readyz.json())).not.toContain(SECRET);
  });

  describe("with QUEUE_INCLUDE='(a+)+$' and a long queue name that almost matches", { timeout: 120_000 }, () => {
    // A backtracking engine takes 2^n steps for n letters `a` followed by one that is not: at 48,
    // hours of a blocked event loop. RE2 answers at once.
    const stuck = `${"a".repeat(48)}!`;
    const kept = `kept-${"a".repeat(48)}`;
    let scenario: RabbitScenario;

    beforeAll(async () => {
      scenario = await RabbitScenario.create([
        { name: stuck, published: 2, held: 0 },
        { name: kept, published: 3, held: 0 },
      ]);
    });
    afterAll(async () => {
      await scenario?.dispose();
    });

    it.each([
      ["prometheus", { RABBITMQ_PROMETHEUS_URL: PROMETHEUS_URL }],
      ["management", { RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL }],
    ])("%s: polls complete, /healthz answers, only the matching queue is exported", async (source, brokerEnv) => {
      const { baseUrl } = await start({
        LISTEN_ADDRESS: "127.0.0.1:0",
        POLL_INTERVAL_SECONDS: "0.5",
        RABBITMQ_SOURCE: source,
        RABBITMQ_VHOSTS: scenario.vhost,
        QUEUE_INCLUDE: "(a+)+$",
        ...brokerEnv,
      });
      // Several polls in a row, each one with the right answer and a /healthz between them.
      const polls = await eventually(
        async () => {
          const healthz = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
          expect(healthz.status).toBe(200);
          const metrics = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
          const samples = parseExposition(await metrics.text());
          expect(countsIn(samples, scenario.vhost)).toEqual({
            [kept]: { depth: 3, ready: 3, unacked: 0, consumers: 0 },
          });
          const polls = findSamples(samples, "queuescale_source_poll_duration_seconds_count", { source });
          return (polls[0]?.value ?? 0) >= 4 ? polls[0]!.value : undefined;
        },
        { timeoutMs: 60_000, what: "four polls exporting only the matching queue" },
      );
      expect(polls).toBeGreaterThanOrEqual(4);
    });
  });
});
