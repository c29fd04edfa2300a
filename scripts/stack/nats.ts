import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { BrokerPlan, Selector } from "./types.js";

/** The overlay's stream and durable consumer; the demo removes the stream (and dead letters) after. */
export function natsPlan(selector: Selector): BrokerPlan {
  const stream = selector.stream!;
  const consumer = selector.consumer!;
  return {
    queue: consumer,
    describe: `JetStream stream "${stream}", durable consumer "${consumer}"`,
    env: {
      BROKER: "nats",
      NATS_URL: "nats://127.0.0.1:4222",
      STREAM: stream,
      CONSUMER: consumer,
      SUBJECTS: `${stream}.>`,
      QUEUE_INCLUDE: `^${stream}$`,
    },
    async setUp() {
      await natsStreams("check", stream);
    },
    async tearDown() {
      await natsStreams("delete", stream);
    },
  };
}

/** The stream and the worker's dead-letter stream, if the demo's run left them. */
async function natsStreams(action: "check" | "delete", stream: string): Promise<void> {
  const connection = await connect({ servers: "127.0.0.1:4222" });
  try {
    const manager = await jetstreamManager(connection);
    const names: string[] = [];
    for await (const info of manager.streams.list()) names.push(info.config.name);
    const ours = names.filter(
      (name) => name === stream || name.startsWith(`${stream}_`) || name.startsWith(`${stream}-`),
    );
    if (action === "check") {
      for (const name of ours) {
        const info = await manager.streams.info(name);
        if (info.state.messages > 0) throw new Error(`stream ${name} already holds ${info.state.messages} messages`);
      }
      return;
    }
    for (const name of ours) await manager.streams.delete(name);
  } finally {
    await connection.close();
  }
}
