/**
 * Confirmed ingest through the producer's HTTP API on loopback, against the bare client's confirmed
 * publish rate in the same run, for each broker. The producer runs as its own process (as in
 * production), so it does not share an event loop with the load generator.
 *
 *   npm run bench -w @queuescale/producer         (after `make build`; brokers on 127.0.0.1)
 *   BENCH_MESSAGES=200000 BENCH_CLIENTS=8 BENCH_BATCH=500 npm run bench -w @queuescale/producer
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import amqp from "amqplib";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { quantile, type BrokerName } from "@queuescale/core";
import type { BrokerHarness } from "@queuescale/test-support/broker-harness";
import { natsHarness } from "@queuescale/test-support/nats/harness";
import { rabbitmqHarness } from "@queuescale/test-support/rabbitmq/harness";
import { PRODUCER_MAIN, startBenchProducer } from "./producer-process.js";
import { printTable } from "./table.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const PAYLOAD = "x".repeat(Number(process.env.BENCH_PAYLOAD_BYTES ?? 200));
const TARGET_PER_SECOND = 5_000;
const MAIN = PRODUCER_MAIN;

/** Starts the built producer, allowing the benchmark's batches, and waits for /readyz. */
function startProducer(env: Record<string, string>) {
  return startBenchProducer({
    ...env,
    ADMIN_TOKEN,
    MAX_BATCH_MESSAGES: String(Math.max(BATCH, 1000)),
    MAX_BODY_BYTES: String(16 * 1024 * 1024),
  });
}
const ADMIN_TOKEN = randomBytes(16).toString("hex");

interface Figure {
  broker: BrokerName;
  path: string;
  messages: number;
  seconds: number;
  batchP50Ms: number;
  batchP99Ms: number;
  /** CPU per message (user + system) of the publishing process: the producer, or the bare client. */
  cpuMicrosPerMessage?: number;
}

/** CPU µs per message this process used since `since` (the bare client runs in it alone). */
function cpuPerMessage(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / (Math.ceil(MESSAGES / BATCH) * BATCH);
}

/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, or undefined off Linux. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Runs `batches` calls of `sendBatch` from CLIENTS concurrent loops; returns duration and latencies. */
async function drive(
  batches: number,
  sendBatch: (batchIndex: number) => Promise<void>,
): Promise<{ seconds: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let batch = next++; batch < batches; batch = next++) {
        const sent = performance.now();
        await sendBatch(batch);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

function figure(broker: BrokerName, path: string, run: { seconds: number; latencies: number[] }): Figure {
  const batches = Math.ceil(MESSAGES / BATCH);
  return {
    broker,
    path,
    messages: batches * BATCH,
    seconds: run.seconds,
    batchP50Ms: quantile(run.latencies, 0.5),
    batchP99Ms: quantile(run.latencies, 0.99),
  };
}

function batchBody(batchIndex: number): string {
  return JSON.stringify({
    messages: Array.from({ length: BATCH }, (_, index) => ({
      body: { n: batchIndex * BATCH + index, payload: PAYLOAD },
    })),
  });
}

async function stopProducer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function httpIngest(broker: BrokerName, url: string, queue: string, producer: ChildProcess): Promise<Figure> {
  const batches = Math.ceil(MESSAGES / BATCH);
  const cpuBefore = cpuSeconds(producer.pid);
  const bodies = Array.from({ length: Math.min(batches, 16) }, (_, index) => batchBody(index));
  const run = await drive(batches, async (batchIndex) => {
    const response = await fetch(`${url}/v1/queues/${queue}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bodies[batchIndex % bodies.length],
    });
    const answer = (await response.json()) as { accepted?: number; error?: string };
    if (response.status !== 202 || answer.accepted !== BATCH) {
      throw new Error(`batch ${batchIndex}: ${response.status} ${JSON.stringify(answer).slice(0, 300)}`);
    }
  });
  const result = figure(broker, `HTTP API (${CLIENTS} clients × ${BATCH}/batch)`, run);
  const cpuAfter = cpuSeconds(producer.pid);
  if (cpuBefore !== undefined && cpuAfter !== undefined) {
    result.cpuMicrosPerMessage = ((cpuAfter - cpuBefore) * 1e6) / result.messages;
  }
  return result;
}

/**
 * The producer's HTTP API into a fresh queue of `harness`, then `bare` (the broker's client alone)
 * into the same queue, emptied in between; the queue is removed at the end.
 */
async function benchBroker(
  harness: BrokerHarness,
  bare: (settings: Record<string, string>, queue: string) => Promise<Figure>,
): Promise<Figure[]> {
  const target = await harness.producerTarget();
  const figures: Figure[] = [];
  try {
    const settings = target.settings();
    const queue = await target.createQueue();
    const { url, child } = await startProducer(settings);
    try {
      figures.push(await httpIngest(harness.broker, url, queue, child));
    } finally {
      await stopProducer(child);
    }
    // The bare client starts, as the producer did, with an empty queue.
    await target.purge(queue);
    figures.push(await bare(settings, queue));
  } finally {
    await target.cleanup();
  }
  return figures;
}

async function bareRabbitmq(settings: Record<string, string>, queue: string): Promise<Figure> {
  const connection = await amqp.connect(settings.RABBITMQ_URL!);
  try {
    // The bare client: one confirm channel, the same batches, persistent, waiting for each batch.
    const channel = await connection.createConfirmChannel();
    const payloads = Array.from({ length: BATCH }, (_, index) =>
      Buffer.from(JSON.stringify({ n: index, payload: PAYLOAD })),
    );
    const cpu = process.cpuUsage();
    const run = await drive(Math.ceil(MESSAGES / BATCH), async () => {
      await Promise.all(
        payloads.map(
          (payload) =>
            new Promise<void>((resolve, reject) => {
              channel.sendToQueue(queue, payload, { persistent: true, mandatory: true }, (error: unknown) =>
                error ? reject(error) : resolve(),
              );
            }),
        ),
      );
    });
    return { ...figure("rabbitmq", "bare amqplib confirm channel", run), cpuMicrosPerMessage: cpuPerMessage(cpu) };
  } finally {
    await connection.close();
  }
}

async function bareNats(settings: Record<string, string>, queue: string): Promise<Figure> {
  const connection = await natsConnect({ servers: settings.NATS_URL! });
  try {
    // The bare client: the same batches as concurrent js.publish calls with message ids.
    const js: JetStreamClient = jetstream(connection);
    const payloads = Array.from({ length: BATCH }, (_, index) =>
      Buffer.from(JSON.stringify({ n: index, payload: PAYLOAD })),
    );
    const cpu = process.cpuUsage();
    const run = await drive(Math.ceil(MESSAGES / BATCH), async (batchIndex) => {
      await Promise.all(
        payloads.map((payload, index) =>
          js.publish(`${settings.STREAM!}.${queue}`, payload, { msgID: `bare-${batchIndex}-${index}` }),
        ),
      );
    });
    return { ...figure("nats", "bare nats.js js.publish", run), cpuMicrosPerMessage: cpuPerMessage(cpu) };
  } finally {
    await connection.drain();
  }
}

if (!existsSync(MAIN)) {
  process.stderr.write("producer bench: dist/main.js is missing; run `make build` first\n");
  process.exit(2);
}

console.log(
  `confirmed ingest: ${Math.ceil(MESSAGES / BATCH) * BATCH} messages of ~${PAYLOAD.length + 30} bytes per path, ` +
    `${CLIENTS} concurrent clients, batches of ${BATCH}; target ≥ ${TARGET_PER_SECOND} msgs/s through the API\n`,
);
const figures = [...(await benchBroker(rabbitmqHarness, bareRabbitmq)), ...(await benchBroker(natsHarness, bareNats))];
const rows = figures.map((each) => [
  each.broker,
  each.path,
  String(each.messages),
  each.seconds.toFixed(2),
  String(Math.round(each.messages / each.seconds)),
  each.batchP50Ms.toFixed(1),
  each.batchP99Ms.toFixed(1),
  each.cpuMicrosPerMessage === undefined ? "" : each.cpuMicrosPerMessage.toFixed(1),
]);
const header = [
  "broker",
  "path",
  "messages",
  "seconds",
  "msgs/s",
  "batch p50 ms",
  "batch p99 ms",
  "publisher CPU µs/msg",
];
printTable(header, rows);
for (const each of figures.filter((item) => item.path.startsWith("HTTP"))) {
  const rate = Math.round(each.messages / each.seconds);
  const bare = figures.find((item) => item.broker === each.broker && !item.path.startsWith("HTTP"));
  const share = bare ? ` (${Math.round((100 * bare.seconds) / each.seconds)}% of the bare client's rate)` : "";
  const verdict = rate >= TARGET_PER_SECOND ? "meets" : "BELOW";
  const cpu = each.cpuMicrosPerMessage;
  const ceiling = cpu ? `; the producer's own CPU would allow ~${Math.round(1e6 / cpu)} msgs/s per core` : "";
  console.log(`${each.broker}: ${rate} msgs/s through the API${share}: ${verdict} the target${ceiling}`);
}
console.log(
  `load average during the run: ${loadavg()
    .map((value) => value.toFixed(1))
    .join(" ")} on ${cpus().length} cores`,
);
