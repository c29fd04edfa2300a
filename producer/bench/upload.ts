/**
 * Bulk upload: a generated CSV (BENCH_UPLOAD_ROWS rows, default 1,000,000 of ~100 bytes) published
 * through POST /v1/queues/NAME/upload and through `queuescale-producer publish --file`, on each
 * broker: rows/s, the time until the last row was confirmed (the answer, or the CLI's exit), and the
 * producer's peak RSS (VmHWM), which must not grow with the file.
 *
 *   npm run bench:upload -w @queuescale/producer     (after `make build`; brokers on 127.0.0.1)
 *   BENCH_UPLOAD_ROWS=200000 BENCH_BROKERS=nats npm run bench:upload -w @queuescale/producer
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { BrokerName } from "@queuescale/core";
import { harnessOf } from "@queuescale/test-support/brokers";
import { PRODUCER_MAIN, startBenchProducer } from "./producer-process.js";
import { printTable } from "./table.js";

const ROWS = Number(process.env.BENCH_UPLOAD_ROWS ?? 1_000_000);
const BROKERS = (process.env.BENCH_BROKERS ?? "rabbitmq,nats").split(",") as BrokerName[];
const RSS_TARGET_MIB = 150;
const MAIN = PRODUCER_MAIN;

function startProducer(env: Record<string, string>) {
  return startBenchProducer({ ...env, ADMIN_TOKEN });
}
const ADMIN_TOKEN = randomBytes(16).toString("hex");

interface Figure {
  broker: BrokerName;
  path: string;
  rows: number;
  seconds: number;
  peakRssMiB: number;
}

/** Peak resident set size of a live process so far (Linux VmHWM), in MiB. */
function peakRssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Writes the CSV the way an export would: a header and ROWS rows, some quoted with a comma. */
async function generateCsv(path: string): Promise<number> {
  const out = createWriteStream(path);
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
  await write("id,customer,sku,quantity,price,note,created\n");
  for (let start = 0; start < ROWS; start += 10_000) {
    let chunk = "";
    for (let row = start; row < Math.min(ROWS, start + 10_000); row++) {
      chunk += `${row},cust-${(row * 7919) % 100_000},SKU-${row % 5000},${1 + (row % 9)},${((row % 10_000) / 100).toFixed(2)},"note for row ${row}, with a comma",2026-11-30T12:00:00Z\n`;
    }
    await write(chunk);
  }
  await new Promise<void>((resolve) => out.end(resolve));
  return (await stat(path)).size;
}

async function admin(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Streams the file as the raw body and waits for the answer, which comes after the last confirm. */
function uploadFile(url: string, queue: string, file: string, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${url}/v1/queues/${queue}/upload`,
      { method: "POST", headers: { "content-type": "text/csv", "content-length": String(size) } },
      (response) => {
        let body = "";
        response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    outgoing.on("error", reject);
    createReadStream(file).pipe(outgoing);
  });
}

async function runCli(
  env: Record<string, string>,
  queue: string,
  file: string,
): Promise<{ seconds: number; rss: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN, "publish", "--queue", queue, "--file", file], {
    env: { ...process.env, ...env, LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  let rss = 0;
  // VmHWM only grows, so its last reading before the exit is the peak.
  const sampler = setInterval(() => {
    const now = peakRssMiB(child.pid);
    if (!Number.isNaN(now)) rss = now;
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`publish --file exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, rss };
}

async function benchBroker(broker: BrokerName, file: string, size: number): Promise<Figure[]> {
  // A queue (a stream and consumer on JetStream) of the run's own, removed at the end.
  const target = await harnessOf(broker).producerTarget();
  const figures: Figure[] = [];
  try {
    const queue = await target.createQueue();
    const env = target.settings();
    const { url, child } = await startProducer(env);
    try {
      const started = performance.now();
      const answer = await uploadFile(url, queue, file, size);
      const seconds = (performance.now() - started) / 1000;
      const parsed = JSON.parse(answer.body) as { accepted?: number };
      if (answer.status !== 200 || parsed.accepted !== ROWS) {
        throw new Error(`upload answered ${answer.status}: ${answer.body.slice(0, 300)}`);
      }
      figures.push({
        broker,
        path: "HTTP upload (raw text/csv)",
        rows: ROWS,
        seconds,
        peakRssMiB: peakRssMiB(child.pid),
      });
      await admin(url, "POST", `/v1/queues/${queue}/purge`);

      const cli = await runCli(env, queue, file);
      figures.push({ broker, path: "publish --file (CLI)", rows: ROWS, seconds: cli.seconds, peakRssMiB: cli.rss });
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  } finally {
    await target.cleanup();
  }
  return figures;
}

if (!existsSync(MAIN)) {
  process.stderr.write("upload bench: dist/main.js is missing; run `make build` first\n");
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), "qs-upload-bench-"));
try {
  const file = join(dir, "data.csv");
  const size = await generateCsv(file);
  console.log(
    `bulk upload: ${ROWS} CSV rows, ${(size / 1024 / 1024).toFixed(1)} MiB (~${Math.round(size / ROWS)} bytes a row); ` +
      `target peak RSS ≤ ${RSS_TARGET_MIB} MiB whatever the file size\n`,
  );
  const figures: Figure[] = [];
  for (const broker of BROKERS) figures.push(...(await benchBroker(broker, file, size)));
  const header = ["broker", "path", "rows", "seconds to last confirm", "rows/s", "producer peak RSS MiB"];
  const rows = figures.map((each) => [
    each.broker,
    each.path,
    String(each.rows),
    each.seconds.toFixed(1),
    String(Math.round(each.rows / each.seconds)),
    each.peakRssMiB.toFixed(0),
  ]);
  printTable(header, rows);
  for (const each of figures) {
    const verdict = each.peakRssMiB <= RSS_TARGET_MIB ? "within" : "OVER";
    console.log(`${each.broker} ${each.path}: peak RSS ${each.peakRssMiB.toFixed(0)} MiB, ${verdict} the target`);
  }
  console.log(
    `load average: ${loadavg()
      .map((value) => value.toFixed(1))
      .join(" ")} on ${cpus().length} cores (the CLI's time includes its start and connect)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
