/**
 * Benchmark of the KEDA external scaler (`npm run bench -w @queuescale/exporter`, after a build).
 *
 * A vhost of its own on the local RabbitMQ holds 1,000 queues (a backlog in every tenth). The
 * exporter reads it through the management API and serves the scaler; one gRPC client (KEDA keeps
 * one connection per scaler address) asks as 1,000 ScaledObjects would. Prints:
 *   - GetMetrics latency (p50, p99) and the wall time of 1,000 concurrent calls, one per queue,
 *     over several rounds, and how many broker polls they caused (the exporter's own counter:
 *     none beyond its schedule);
 *   - with 1,000 StreamIsActive streams open, the time from the poll that sees a new message to
 *     the client receiving `true`, and the exporter's heap growth for the open streams.
 */
import { createLogger, quantile } from "@queuescale/core";
import { MANAGEMENT_URL, RabbitScenario } from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";
import { ScalerClient } from "@queuescale/test-support/scaler-client";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { startExporter } from "../src/exporter.js";

const QUEUES = 1_000;
const ROUNDS = 5;
const POLL_INTERVAL_SECONDS = 5;

const ms = (value: number) => `${value.toFixed(1)} ms`;

const queues = Array.from({ length: QUEUES }, (_, index) => ({
  name: `q${String(index).padStart(4, "0")}`,
  published: index % 10 === 0 ? 3 : 0,
  held: 0,
}));

const scenario = await RabbitScenario.create(queues);
const exporter = await startExporter(
  {
    env: {
      RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL,
      RABBITMQ_SOURCE: "management",
      RABBITMQ_VHOSTS: scenario.vhost,
      LISTEN_ADDRESS: "127.0.0.1:0",
      SCALER_LISTEN_ADDRESS: "127.0.0.1:0",
      POLL_INTERVAL_SECONDS: String(POLL_INTERVAL_SECONDS),
      POLL_TIMEOUT_SECONDS: "30",
    },
  },
  createLogger("bench", "silent"),
);
const client = new ScalerClient(`127.0.0.1:${exporter.scalerPort}`);
const baseUrl = `http://127.0.0.1:${exporter.port}`;
const trigger = (queue: string) => ({ broker: "rabbitmq", vhost: scenario.vhost, queue, value: "10" });
const polls = async () =>
  findSamples(await scrape(baseUrl), "queuescale_source_poll_duration_seconds_count").reduce((a, s) => a + s.value, 0);

try {
  await eventually(() => exporter.collector.find("rabbitmq", { vhost: scenario.vhost, queue: queues.at(-1)!.name }), {
    // The management API lists new queues after its statistics interval; slower on a busy machine.
    timeoutMs: 120_000,
  });
  console.log(`external scaler: ${QUEUES} queues, management source, poll every ${POLL_INTERVAL_SECONDS} s`);

  const latencies: number[] = [];
  const walls: number[] = [];
  // A poll that fails meanwhile (a busy broker) makes calls UNAVAILABLE, as it should: counted.
  let failed = 0;
  const pollsBefore = await polls();
  const startedAt = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    const roundStart = performance.now();
    await Promise.all(
      queues.map(async (queue) => {
        const started = performance.now();
        const ok = await client.getMetrics(trigger(queue.name)).then(
          () => true,
          () => false,
        );
        latencies.push(performance.now() - started);
        if (!ok) failed++;
      }),
    );
    walls.push(performance.now() - roundStart);
  }
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  const pollsDuring = (await polls()) - pollsBefore;
  console.log(
    `  GetMetrics x${QUEUES} concurrent, ${ROUNDS} rounds: p50 ${ms(quantile(latencies, 0.5))}, p99 ${ms(quantile(latencies, 0.99))}, ` +
      `round wall time median ${ms(quantile(walls, 0.5))}, ${failed} UNAVAILABLE; broker polls meanwhile ${pollsDuring} ` +
      `(schedule allows ${Math.ceil(elapsedSeconds / POLL_INTERVAL_SECONDS) + 1} in ${elapsedSeconds.toFixed(1)} s)`,
  );

  // 1,000 open streams; one queue gets work.
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const idle = queues.filter((queue) => queue.published === 0);
  const flipped = idle[0]!.name;
  let seenAt: number | undefined;
  let receivedAt: number | undefined;
  const opened = await Promise.all(
    idle.map(
      (queue) =>
        new Promise<ReturnType<ScalerClient["streamIsActive"]>>((resolve, reject) => {
          const stream = client.streamIsActive(trigger(queue.name));
          // A stream the exporter ends (UNAVAILABLE while the broker cannot be read) would
          // otherwise leave this waiting for its first answer for ever.
          stream.on("error", (error: Error) => reject(new Error(`StreamIsActive for ${queue.name}: ${error.message}`)));
          stream.on("data", (message: { result: boolean }) => {
            if (message.result && queue.name === flipped) receivedAt ??= performance.now();
            resolve(stream);
          });
        }),
    ),
  );
  const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  exporter.collector.onPoll(() => {
    if ((exporter.collector.find("rabbitmq", { vhost: scenario.vhost, queue: flipped })?.depth ?? 0) > 0) {
      seenAt ??= performance.now();
    }
  });
  await scenario.publish(flipped, 1);
  await eventually(() => receivedAt, { timeoutMs: 120_000 });
  console.log(
    `  ${opened.length} StreamIsActive streams open (heap +${heapGrowthMb.toFixed(1)} MiB, client and server in one process); ` +
      `poll that saw the message → client got true: ${ms(receivedAt! - seenAt!)}`,
  );
  for (const stream of opened) stream.cancel();
} finally {
  client.close();
  await exporter.stop();
  await scenario.dispose();
}
