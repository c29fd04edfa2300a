/**
 * No-op handler throughput of queuescale-worker next to a bare client loop on the same broker, in
 * the same run, at each concurrency: RabbitMQ (amqplib consume with the worker's prefetch, ack per
 * message) and JetStream (consume() with a callback and a window of the worker's CONCURRENCY,
 * ack per message). Each run starts with the same number of small messages already queued and times first
 * delivery to last ack; bare and worker runs alternate. Prints figures; not a test. Target: the
 * worker at ≥ 90 % of the bare loop.
 *
 *   npm run bench -w @queuescale/worker   (BENCH_MESSAGES, BENCH_CONCURRENCY=10,64, BENCH_ROUNDS, BENCH_BROKERS)
 */
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import amqp from "amqplib";
import {
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { jetStreamPullWindow } from "@queuescale/core";
import { commonWorkerSettings } from "../src/settings.js";
import { startWorker } from "../src/worker.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
/** The worker's default CONCURRENCY, then a larger one. */
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? `${commonWorkerSettings.CONCURRENCY.parse(undefined)},64`)
  .split(",")
  .map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RABBITMQ_URL = process.env.BENCH_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const NATS_URL = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const BODY = Buffer.from(JSON.stringify({ id: 0, payload: "x".repeat(64) }));

interface Results {
  bare: Run[];
  worker: Run[];
  /** JetStream only: the for-await loop, which holds back pulls like the worker does. */
  iterator?: Run[];
}

const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;

interface Run {
  /** Messages per second from first delivery to last. */
  rate: number;
  /** CPU time of this process per message, in microseconds: the client's own cost, whatever the broker's load. */
  cpuMicros: number;
}

/** Resolves once `tick` has been called MESSAGES times (once per message). */
function stopwatch(): { tick(): void; done: Promise<Run> } {
  let count = 0;
  let started = 0;
  let cpu = process.cpuUsage();
  let finish: (run: Run) => void = () => undefined;
  const done = new Promise<Run>((resolve) => (finish = resolve));
  return {
    tick() {
      if (count === 0) {
        started = performance.now();
        cpu = process.cpuUsage();
      }
      if (++count === MESSAGES) {
        const seconds = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        finish({ rate: MESSAGES / seconds, cpuMicros: (used.user + used.system) / MESSAGES });
      }
    },
    done,
  };
}

async function withWorker(
  env: Record<string, string>,
  concurrency: number,
  timer: ReturnType<typeof stopwatch>,
): Promise<Run> {
  const worker = await startWorker({
    env: {
      ...env,
      HANDLER: "unused",
      LISTEN_ADDRESS: "127.0.0.1:0",
      LOG_LEVEL: "warn",
      CONCURRENCY: String(concurrency),
    },
    handler: () => timer.tick(),
  });
  const run = await timer.done;
  await worker.stop();
  return run;
}

async function rabbitmq(concurrency: number): Promise<Results> {
  const queue = `bench-worker-${suffix}`;
  const connection = await amqp.connect(RABBITMQ_URL);
  const publisher = await connection.createConfirmChannel();
  await publisher.assertQueue(queue, { durable: true });
  const fill = async () => {
    for (let sent = 0; sent < MESSAGES; sent++) {
      if (!publisher.sendToQueue(queue, BODY, { persistent: true })) {
        await new Promise((resolve) => publisher.once("drain", resolve));
      }
    }
    await publisher.waitForConfirms();
  };
  const bareLoop = async () => {
    const channel = await connection.createChannel();
    await channel.prefetch(concurrency);
    const timer = stopwatch();
    const { consumerTag } = await channel.consume(queue, (message) => {
      if (!message) return;
      channel.ack(message);
      timer.tick();
    });
    const run = await timer.done;
    await channel.cancel(consumerTag);
    await channel.close();
    return run;
  };
  const results: Results = { bare: [], worker: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await fill();
      results.bare.push(await bareLoop());
      await fill();
      results.worker.push(
        await withWorker({ BROKER: "rabbitmq", RABBITMQ_URL, QUEUE: queue, DECLARE: "true" }, concurrency, stopwatch()),
      );
    }
  } finally {
    for (const name of [queue, `${queue}.retry`, `${queue}.dead`])
      await publisher.deleteQueue(name).catch(() => undefined);
    await connection.close();
  }
  return results;
}

async function nats(concurrency: number): Promise<Results> {
  const stream = `bench_worker_${suffix}`;
  const subject = `${stream}.jobs`;
  // Publishing the fill without async stack traces keeps it quick; the consuming loops do not request.
  const connection = await connect({ servers: NATS_URL, noAsyncTraces: true });
  const manager = await jetstreamManager(connection);
  const js = jetstream(connection);
  await manager.streams.add({
    name: stream,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  const fill = async () => {
    const batch = 1000;
    for (let sent = 0; sent < MESSAGES; sent += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, MESSAGES - sent) }, () => js.publish(subject, BODY)));
    }
  };
  const bareLoop = async (consumerName: string, style: "callback" | "iterator") => {
    await manager.consumers.add(stream, { durable_name: consumerName, ack_policy: "explicit" });
    const consumer = await js.consumers.get(stream, consumerName);
    const timer = stopwatch();
    const handle = (message: JsMsg) => {
      message.ack();
      timer.tick();
    };
    // A window of the worker's size, so both hold as many messages. A callback handles each message as
    // it is read, so the acks of one read leave in one write, but it cannot hold back the next
    // pulls while handlers are busy; the iterator sends a pull only once the loop reached it.
    let messages: ConsumerMessages;
    if (style === "callback") {
      messages = await consumer.consume({ ...jetStreamPullWindow(concurrency), callback: handle });
    } else {
      messages = await consumer.consume(jetStreamPullWindow(concurrency));
      void (async () => {
        for await (const message of messages) handle(message);
      })();
    }
    const run = await timer.done;
    await messages.close();
    await manager.consumers.delete(stream, consumerName);
    return run;
  };
  const results: Results = { bare: [], worker: [], iterator: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await fill();
      results.bare.push(await bareLoop(`bare${round}`, "callback"));
      await fill();
      results.iterator!.push(await bareLoop(`iterator${round}`, "iterator"));
      await fill();
      const consumer = `worker${round}`;
      results.worker.push(
        await withWorker(
          { BROKER: "nats", NATS_URL, STREAM: stream, CONSUMER: consumer, DECLARE: "true" },
          concurrency,
          stopwatch(),
        ),
      );
      await manager.consumers.delete(stream, consumer);
    }
  } finally {
    await manager.streams.delete(stream).catch(() => undefined);
    await manager.streams.delete(`${stream}_DEAD`).catch(() => undefined);
    await manager.streams.delete(`${stream}_DEAD_EXHAUSTED`).catch(() => undefined);
    await connection.close();
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function report(broker: string, concurrency: number, results: Results): void {
  const rate = (runs: Run[]) => median(runs.map((run) => run.rate));
  const cpu = (runs: Run[]) => median(runs.map((run) => run.cpuMicros));
  const rates = (runs: Run[]) => runs.map((run) => Math.round(run.rate)).join(", ");
  const worker = rate(results.worker);
  const loops: [string, Run[]][] = [["bare", results.bare]];
  if (results.iterator) loops.push(["bare for-await", results.iterator]);
  const line = (name: string, runs: Run[]) =>
    `${name} ${Math.round(rate(runs))} msg/s, ${cpu(runs).toFixed(1)} µs CPU/msg (runs ${rates(runs)})`;
  console.log(
    `${broker.padEnd(9)} ${String(concurrency).padStart(4)}  ${[...loops, ["worker", results.worker] as [string, Run[]]].map(([name, runs]) => line(name, runs)).join(" | ")}`,
  );
  for (const [name, runs] of loops) {
    console.log(`${" ".repeat(15)} worker/${name} ${((worker / rate(runs)) * 100).toFixed(1)} %`);
  }
}

const load = () =>
  `${loadavg()
    .map((value) => value.toFixed(1))
    .join(" ")} on ${cpus().length} cores`;
console.log(
  `queuescale-worker no-op throughput: ${MESSAGES} messages of ${BODY.length} B per run, median of ${ROUNDS} runs; concurrency = the worker's CONCURRENCY, RabbitMQ prefetch, JetStream pull window (${CONCURRENCIES.map((c) => `${c}: ${JSON.stringify(jetStreamPullWindow(c))}`).join(", ")})`,
);
console.log(`load average at the start: ${load()}`);
console.log("broker    conc.");
const brokers = (process.env.BENCH_BROKERS ?? "rabbitmq,nats").split(",");
for (const concurrency of CONCURRENCIES) {
  if (brokers.includes("rabbitmq")) report("rabbitmq", concurrency, await rabbitmq(concurrency));
  if (brokers.includes("nats")) report("nats", concurrency, await nats(concurrency));
}
console.log(`load average at the end: ${load()}`);
