/**
 * No-op handler throughput of queuescale-worker next to a bare client loop on the same broker, in
 * the same run: RabbitMQ (amqplib consume + ack) and JetStream (consume() + ack). Each run starts
 * with the same number of small messages already queued and times first delivery to last ack.
 * Prints figures; not a test. Target: the worker at ≥ 90 % of the bare loop.
 *
 *   npm run bench -w @queuescale/worker   (BENCH_MESSAGES, BENCH_CONCURRENCY, BENCH_ROUNDS, BENCH_BROKERS)
 */
import { randomBytes } from "node:crypto";
import amqp from "amqplib";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startWorker } from "../src/worker.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RABBITMQ_URL = process.env.BENCH_RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const NATS_URL = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const BODY = Buffer.from(JSON.stringify({ id: 0, payload: "x".repeat(64) }));

interface Results {
  bare: Run[];
  worker: Run[];
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

async function withWorker(env: Record<string, string>, timer: ReturnType<typeof stopwatch>): Promise<Run> {
  const worker = await startWorker({
    env: {
      ...env,
      HANDLER: "unused",
      LISTEN_ADDRESS: "127.0.0.1:0",
      LOG_LEVEL: "warn",
      CONCURRENCY: String(CONCURRENCY),
    },
    handler: () => timer.tick(),
  });
  const run = await timer.done;
  await worker.stop();
  return run;
}

async function rabbitmq(): Promise<Results> {
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
    await channel.prefetch(CONCURRENCY);
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
        await withWorker({ BROKER: "rabbitmq", RABBITMQ_URL, QUEUE: queue, DECLARE: "true" }, stopwatch()),
      );
    }
  } finally {
    for (const name of [queue, `${queue}.retry`, `${queue}.dead`])
      await publisher.deleteQueue(name).catch(() => undefined);
    await connection.close();
  }
  return results;
}

async function nats(): Promise<Results> {
  const stream = `bench_worker_${suffix}`;
  const subject = `${stream}.jobs`;
  const connection = await connect({ servers: NATS_URL });
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
  const bareLoop = async (consumerName: string) => {
    await manager.consumers.add(stream, { durable_name: consumerName, ack_policy: "explicit" });
    const consumer = await js.consumers.get(stream, consumerName);
    const messages = await consumer.consume({ max_messages: CONCURRENCY });
    const timer = stopwatch();
    void (async () => {
      for await (const message of messages) {
        message.ack();
        timer.tick();
      }
    })();
    const run = await timer.done;
    await messages.close();
    await manager.consumers.delete(stream, consumerName);
    return run;
  };
  const results: Results = { bare: [], worker: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await fill();
      results.bare.push(await bareLoop(`bare${round}`));
      await fill();
      const consumer = `worker${round}`;
      results.worker.push(
        await withWorker(
          { BROKER: "nats", NATS_URL, STREAM: stream, CONSUMER: consumer, DECLARE: "true" },
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

function report(broker: string, results: Results): void {
  const bare = median(results.bare.map((run) => run.rate));
  const worker = median(results.worker.map((run) => run.rate));
  const bareCpu = median(results.bare.map((run) => run.cpuMicros));
  const workerCpu = median(results.worker.map((run) => run.cpuMicros));
  const rates = (runs: Run[]) => runs.map((run) => Math.round(run.rate)).join(", ");
  console.log(
    `${broker.padEnd(9)} bare ${Math.round(bare)} msg/s, ${bareCpu.toFixed(1)} µs CPU/msg | worker ${Math.round(worker)} msg/s, ${workerCpu.toFixed(1)} µs CPU/msg | worker/bare ${((worker / bare) * 100).toFixed(1)} % (runs: bare ${rates(results.bare)}; worker ${rates(results.worker)})`,
  );
}

console.log(
  `queuescale-worker no-op throughput: ${MESSAGES} messages of ${BODY.length} B per run, concurrency/prefetch ${CONCURRENCY}, median of ${ROUNDS} runs`,
);
const brokers = (process.env.BENCH_BROKERS ?? "rabbitmq,nats").split(",");
if (brokers.includes("rabbitmq")) report("rabbitmq", await rabbitmq());
if (brokers.includes("nats")) report("nats", await nats());
