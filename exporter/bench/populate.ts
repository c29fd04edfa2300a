/**
 * The broker contents the exporter benchmarks measure against, shared by `make bench-exporter`
 * (exporter/bench) and `make bench-peers` (loadtest/bench) so both read the same set.
 */
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import amqp from "amqplib";

/** One queue in MESSAGES_EVERY holds 1 to 5 messages. */
export const MESSAGES_EVERY = 10;

export const benchQueueName = (index: number) => `bench-${index.toString().padStart(5, "0")}`;

/** Creates `queues` non-durable queues in the vhost of `amqpUrl`; resolves with the messages published. */
export async function createBenchQueues(amqpUrl: string, queues: number): Promise<number> {
  const connection = await amqp.connect(amqpUrl);
  let messages = 0;
  try {
    const channels = await Promise.all(Array.from({ length: 8 }, () => connection.createConfirmChannel()));
    for (let first = 0; first < queues; first += 800) {
      await Promise.all(
        Array.from({ length: Math.min(800, queues - first) }, (_unused, offset) =>
          channels[offset % channels.length]!.assertQueue(benchQueueName(first + offset), { durable: false }),
        ),
      );
    }
    const publisher = channels[0]!;
    for (let index = 0; index < queues; index += MESSAGES_EVERY) {
      const count = 1 + ((index / MESSAGES_EVERY) % 5);
      for (let message = 0; message < count; message++) publisher.sendToQueue(benchQueueName(index), Buffer.from("x"));
      messages += count;
    }
    await publisher.waitForConfirms();
  } finally {
    await connection.close();
  }
  return messages;
}

export const BENCH_STREAMS = 5;
/** Every BACKLOG_EVERY-th consumer gets MESSAGES_PER_BACKLOG messages, UNACKED_PER_BACKLOG of them delivered and not acked. */
const BACKLOG_EVERY = 4;
const MESSAGES_PER_BACKLOG = 8;
const UNACKED_PER_BACKLOG = 3;

/** Creates BENCH_STREAMS streams with `consumersPerStream` durable pull consumers each on a (throwaway) server. */
export async function populateBenchStreams(
  serverUrl: string,
  consumersPerStream: number,
): Promise<{ consumers: number; withBacklog: number }> {
  const nc = await connect({ servers: serverUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  let withBacklog = 0;
  // The streams are set up side by side; within one, consumers are added in batches, to keep the
  // server's API queue short.
  const populateStream = async (s: number) => {
    const stream = `bench-${s}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    for (let first = 0; first < consumersPerStream; first += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, consumersPerStream - first) }, (_unused, offset) =>
          jsm.consumers.add(stream, {
            durable_name: `worker-${first + offset}`,
            ack_policy: AckPolicy.Explicit,
            ack_wait: 3_600 * 1e9,
            filter_subject: `${stream}.c${first + offset}`,
          }),
        ),
      );
    }
    const backlogged = Array.from(
      { length: Math.ceil(consumersPerStream / BACKLOG_EVERY) },
      (_u, i) => i * BACKLOG_EVERY,
    );
    for (let first = 0; first < backlogged.length; first += 10) {
      await Promise.all(
        backlogged.slice(first, first + 10).map(async (c) => {
          withBacklog++;
          await Promise.all(Array.from({ length: MESSAGES_PER_BACKLOG }, () => js.publish(`${stream}.c${c}`, "job")));
          // Deliver a few without acknowledging, so the age look-up starts past the ack floor.
          const consumer = await js.consumers.get(stream, `worker-${c}`);
          const batch = await consumer.fetch({ max_messages: UNACKED_PER_BACKLOG, expires: 2000 });
          for await (const message of batch) void message;
        }),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: BENCH_STREAMS }, (_unused, s) => populateStream(s)));
  } finally {
    await nc.close();
  }
  return { consumers: BENCH_STREAMS * consumersPerStream, withBacklog };
}
