import { afterEach, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { eventually, uniqueName } from "@queuescale/test-support/names";
import { deleteStreams } from "@queuescale/test-support/nats/streams";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";
import { NatsConsumer } from "../src/brokers/nats/worker/consumer.js";
import { defaultDeadLetterStream, defaultDeadLetterSubject } from "../src/brokers/nats/worker/message.js";
import type { Delivery } from "../src/consumer/types.js";

const NATS_PORT = 4222;

/**
 * The worker's JetStream pull loop against the shared server: what it holds, and what it asks for,
 * read from the server's own count of delivered-but-unacked messages and waiting pull requests.
 */
describe("NatsConsumer pull loop (shared nats-server)", () => {
  let connection: NatsConnection;
  let manager: JetStreamManager;
  const streams: string[] = [];
  const consumers: NatsConsumer[] = [];
  const proxies: TcpProxy[] = [];

  afterEach(async () => {
    for (const consumer of consumers.splice(0)) await consumer.close();
    for (const proxy of proxies.splice(0)) await proxy.close();
    if (manager) await deleteStreams(manager, streams.splice(0));
    await connection?.close();
  });

  async function setUp(concurrency: number, port = NATS_PORT) {
    connection = await connect({ servers: `nats://127.0.0.1:${NATS_PORT}` });
    manager = await jetstreamManager(connection);
    const stream = uniqueName("pull");
    const subject = `${stream}.jobs`;
    streams.push(stream, defaultDeadLetterStream(stream), `${defaultDeadLetterStream(stream)}_EXHAUSTED`);
    await manager.streams.add({
      name: stream,
      subjects: [subject],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    const connected: boolean[] = [];
    const consumer = new NatsConsumer(
      {
        url: `nats://127.0.0.1:${port}`,
        stream,
        consumer: "workers",
        subjects: [subject],
        ackWaitMs: 30_000,
        deadLetterSubject: defaultDeadLetterSubject(stream, "workers"),
        deadLetterStream: defaultDeadLetterStream(stream),
      },
      { concurrency, maxAttempts: 3, declare: true, retryMaxDelayMs: 60_000 },
      { logger: pino({ level: "silent" }), onConnectionChange: (up) => connected.push(up) },
    );
    consumers.push(consumer);
    const deliveries: Delivery[] = [];
    await consumer.start((delivery) => deliveries.push(delivery));
    const js = jetstream(connection);
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) await js.publish(subject, JSON.stringify({ i }));
    };
    const info = () => manager.consumers.info(stream, "workers");
    return { consumer, deliveries, publish, info, connected };
  }

  it("holds at most CONCURRENCY messages while handlers are busy, and asks for exactly what settling frees", async () => {
    const { deliveries, publish, info } = await setUp(4);
    await publish(30);
    // Four in handlers, none asked for: the server has nothing it could send on top.
    await eventually(async () => {
      const state = await info();
      return deliveries.length === 4 && state.num_ack_pending === 4 && state.num_waiting === 0 ? true : undefined;
    });
    expect((await info()).num_pending).toBe(26);

    for (const delivery of deliveries.slice(0, 2)) expect(await delivery.ack()).toBe(true);
    await eventually(async () => {
      const state = await info();
      return deliveries.length === 6 && state.num_ack_pending === 4 && state.num_waiting === 0 ? true : undefined;
    });
    expect(deliveries).toHaveLength(6);

    // Settled as they come, all of them flow.
    let acked = 2;
    await eventually(async () => {
      for (const delivery of deliveries.slice(acked)) await delivery.ack();
      acked = deliveries.length;
      return acked === 30 ? true : undefined;
    });
    await eventually(async () => ((await info()).num_ack_pending === 0 ? true : undefined));
    expect((await info()).num_pending).toBe(0);
  });

  it("re-issues its pull after a reconnect: messages flow and the window still holds", async () => {
    const proxy = new TcpProxy(NATS_PORT);
    proxies.push(proxy);
    await proxy.start();
    const { deliveries, publish, info, connected } = await setUp(3, proxy.port);
    // The first pull waits on the empty stream.
    await eventually(async () => ((await info()).num_waiting === 1 ? true : undefined));

    await proxy.cut();
    await eventually(() => (connected.at(-1) === false ? true : undefined));
    await proxy.restore();
    await eventually(() => (connected.at(-1) === true ? true : undefined), { timeoutMs: 30_000 });

    await publish(10);
    await eventually(async () => {
      const state = await info();
      return deliveries.length === 3 && state.num_ack_pending === 3 ? true : undefined;
    });
    // The request from before the cut delivered nothing on top of the new one.
    expect((await info()).num_ack_pending).toBe(3);
    expect(deliveries).toHaveLength(3);

    let acked = 0;
    await eventually(async () => {
      for (const delivery of deliveries.slice(acked)) expect(await delivery.ack()).toBe(true);
      acked = deliveries.length;
      return acked === 10 ? true : undefined;
    });
    await eventually(async () => ((await info()).num_ack_pending === 0 ? true : undefined));
  });

  it("stopConsuming stops asking: nothing more arrives, and what is in handlers can still be acked", async () => {
    const { consumer, deliveries, publish, info } = await setUp(2);
    await publish(5);
    await eventually(() => (deliveries.length === 2 ? true : undefined));
    await consumer.stopConsuming();
    for (const delivery of deliveries) expect(await delivery.ack()).toBe(true);
    await eventually(async () => {
      const state = await info();
      return state.num_ack_pending === 0 && state.num_pending === 3 && state.num_waiting === 0 ? true : undefined;
    });
    expect(deliveries).toHaveLength(2);
  });
});
