import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { BrokerPlan, Selector } from "./types.js";

/**
 * The overlay's stream and durable consumer (a stream of its own for this run when `suffix` is
 * given). The stream's subjects are `<STREAM>.>`, which holds the producer's `<STREAM>.<consumer>`.
 */
export function natsPlan(overlaySelector: Selector, suffix?: string): BrokerPlan {
  const stream = suffix ? `${overlaySelector.stream!}_${suffix}` : overlaySelector.stream!;
  const consumer = overlaySelector.consumer!;
  // The worker keeps dead letters in <STREAM>_DEAD unless told otherwise, and the advisories of
  // messages past max_deliver in <STREAM>_DEAD_EXHAUSTED.
  const streams = [stream, `${stream}_DEAD`, `${stream}_DEAD_EXHAUSTED`];
  return {
    selector: { ...overlaySelector, stream },
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
      await withStreams(streams, async (manager, name) => {
        const info = await manager.streams.info(name);
        if (info.state.messages > 0) throw new Error(`stream ${name} already holds ${info.state.messages} messages`);
      });
    },
    async tearDown() {
      await withStreams(streams, (manager, name) => manager.streams.delete(name));
    },
  };
}

type Manager = Awaited<ReturnType<typeof jetstreamManager>>;

/** Runs `action` on each of `names` that exists; exactly those streams, never a prefix match. */
async function withStreams(
  names: string[],
  action: (manager: Manager, name: string) => Promise<unknown>,
): Promise<void> {
  const connection = await connect({ servers: "127.0.0.1:4222" });
  try {
    const manager = await jetstreamManager(connection);
    const existing = new Set<string>();
    for await (const info of manager.streams.list()) existing.add(info.config.name);
    for (const name of names) if (existing.has(name)) await action(manager, name);
  } finally {
    await connection.close();
  }
}
