import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { uniqueName } from "@queuescale/test-support/names";
import type { BrokerFixture, BrokerModule } from "./types.js";

const NATS_PORT = 4222;
const NATS_URL = `nats://127.0.0.1:${NATS_PORT}`;
/** The durable consumer the nats overlay's workers pull from. */
const CONSUMER = "workers";

/**
 * A stream of the run's own (subjects `<stream>.>`) on the shared NATS server, with the overlay's
 * durable pull consumer `workers`. Deleting the stream deletes the consumer with it.
 */
export const nats: BrokerModule = {
  broker: "nats",
  async create(): Promise<BrokerFixture> {
    const nc = await connect({ servers: NATS_URL });
    const stream = uniqueName("qs-e2e");
    let disposed = false;
    const dispose = async () => {
      if (disposed) return;
      disposed = true;
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.delete(stream).catch((error: unknown) => {
          if (!String(error).includes("not found")) throw error;
        });
      } finally {
        await nc.close();
      }
    };
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      await jsm.consumers.add(stream, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit });
    } catch (error) {
      await dispose();
      throw error;
    }
    return {
      broker: "nats",
      description: `nats stream ${stream} consumer ${CONSUMER}`,
      selector: { broker: "nats", stream, consumer: CONSUMER },
      settings: {
        // The shared server has other streams; export this run's only.
        "queuescale-exporter": { QUEUE_INCLUDE: `^${stream}$` },
        "queuescale-worker": { STREAM: stream, SUBJECTS: `${stream}.>`, CONSUMER },
      },
      exporterUpstreamPort: NATS_PORT,
      // The exporter's own key (a read-only user in a real cluster); the shared server has no users.
      secretFor: (proxyPort) => ({
        "nats-url": `nats://127.0.0.1:${proxyPort}`,
        "nats-exporter-url": `nats://127.0.0.1:${proxyPort}`,
        "admin-token": "e2e",
      }),
      async publish(count) {
        const js = jetstream(nc);
        const acks = [];
        for (let index = 0; index < count; index++) acks.push(js.publish(`${stream}.jobs`, `e2e message ${index}`));
        await Promise.all(acks);
      },
      async purge() {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.purge(stream);
      },
      dispose,
    };
  },
};
