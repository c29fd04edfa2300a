import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { exactPattern } from "@queuescale/core";
import { deleteStreams, isStreamNotFound } from "@queuescale/test-support/nats/streams";
import type { BrokerPlan, Selector } from "./types.js";

const NATS_URL = "nats://127.0.0.1:4222";

/** Runs `use` with a JetStream manager on a connection of its own, closed after. */
async function withManager<T>(use: (manager: JetStreamManager) => Promise<T>): Promise<T> {
  const connection = await connect({ servers: NATS_URL });
  try {
    return await use(await jetstreamManager(connection));
  } finally {
    await connection.close();
  }
}

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
      NATS_URL,
      STREAM: stream,
      CONSUMER: consumer,
      SUBJECTS: `${stream}.>`,
      QUEUE_INCLUDE: exactPattern(stream),
    },
    async setUp() {
      // A run starts from empty streams (or none): leftovers would count as its backlog.
      await withManager(async (manager) => {
        for (const name of streams) {
          const info = await manager.streams.info(name).catch((error: unknown) => {
            if (isStreamNotFound(error)) return undefined;
            throw error;
          });
          if (info && info.state.messages > 0) {
            throw new Error(`stream ${name} already holds ${info.state.messages} messages`);
          }
        }
      });
    },
    tearDown: () => withManager((manager) => deleteStreams(manager, streams)),
  };
}
