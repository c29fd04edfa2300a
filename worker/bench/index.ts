/**
 * No-op handler throughput of queuescale-worker next to a bare client loop on the same broker, in
 * the same run: RabbitMQ (amqplib consume + ack) and JetStream (consume() + ack). Each run starts
 * with the same number of small messages already queued and times first delivery to last ack.
 * Prints figures; not a test. Target: the worker at ≥ 90 % of the bare loop.
 *
 *   npm run bench -w @queuescale/worker            (BENCH_MESSAGES, BENCH_CONCURRENCY, BENCH_ROUNDS)
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

const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;

/** Resolves with the elapsed seconds once `count` reaches MESSAGES; `tick` is called per message. */
function stopwatch(): { tick(): void; done: Promise<number> } {
  let count = 0;
  let started = 0;
  let finish: (seconds: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  return {
    tick() {
      if (count === 0) started = performance.now();
      if (++count === MESSAGES) finish((performance.now() - started) / 1000);
    },
    done,
  };
}

async function withWorker(env: Record<string, string>, timer: ReturnType<typeof stopwatch>): Promise<number> {
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
  const seconds = await timer.done;
  await worker.stop();
  return seconds;
}

async function rabbitmq(): Promise<{ bare: number[]; worker: number[] }> {
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
    const seconds = await timer.done;
    await channel.cancel(consumerTag);
    await channel.close();
    return seconds;
  };
  const results = { bare: [] as number[], worker: [] as number[] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await fill();
      results.bare.push(MESSAGES / (await bareLoop()));
      await fill();
      results.worker.push(
        MESSAGES / (await withWorker({ BROKER: "rabbitmq", RABBITMQ_URL, QUEUE: queue, DECLARE: "true" }, stopwatch())),
      );
    }
  } finally {
    for (const name of [queue, `${queue}.retry`, `${queue}.dead`])
      await publisher.deleteQueue(name).catch(() => undefined);
    await connection.close();
  }
  return results;
}

async function nats(): Promise<{ bare: number[]; worker: number[] }> {
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
    const seconds = await timer.done;
    await messages.close();
    await manager.consumers.delete(stream, consumerName);
    return seconds;
  };
  const results = { bare: [] as number[], worker: [] as number[] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await fill();
      results.bare.push(MESSAGES / (await bareLoop(`bare${round}`)));
      await fill();
      const consumer = `worker${round}`;
      results.worker.push(
        MESSAGES /
          (await withWorker(
            { BROKER: "nats", NATS_URL, STREAM: stream, CONSUMER: consumer, DECLARE: "true" },
            stopwatch(),
          )),
      );
      await manager.consumers.delete(stream, consumer);
    }
  } finally {
    await manager.streams.delete(stream).catch(() => undefined);
    await manager.streams.delete(`${stream}_DEAD`).catch(() => undefined);
    await connection.close();
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function report(broker: string, results: { bare: number[]; worker: number[] }): void {
  const bare = median(results.bare);
  const worker = median(results.worker);
  const format = (values: number[]) => values.map((value) => Math.round(value)).join(", ");
  console.log(
    `${broker.padEnd(9)} bare ${Math.round(bare).toString().padStart(7)} msg/s   worker ${Math.round(worker)
      .toString()
      .padStart(
        7,
      )} msg/s   worker/bare ${((worker / bare) * 100).toFixed(1)} %   (runs: bare ${format(results.bare)}; worker ${format(results.worker)})`,
  );
}

console.log(
  `queuescale-worker no-op throughput: ${MESSAGES} messages of ${BODY.length} B per run, concurrency/prefetch ${CONCURRENCY}, median of ${ROUNDS} runs`,
);
report("rabbitmq", await rabbitmq());
report("nats", await nats());
