import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { exactPattern } from "@queuescale/core";
import { uniqueName } from "@queuescale/test-support/names";
import { deleteStreams } from "@queuescale/test-support/nats/streams";
import { ADMIN_TOKEN, type BrokerFixture, type BrokerModule } from "./types.js";

const NATS_PORT = 4222;
const NATS_URL = `nats://127.0.0.1:${NATS_PORT}`;
/** The durable consumer the nats overlay's workers pull from. */
const CONSUMER = "workers";
/** Where the exporter pods read the broker address from (a key of the run's Secret). */

/**
 * A stream of the run's own (subjects `<stream>.>`) on the shared NATS server, with the overlay's
 * durable pull consumer `workers`. Deleting the stream deletes the consumer with it.
 */
export const nats: BrokerModule = {
  broker: "nats",
  async create(): Promise<BrokerFixture> {
    const nc = await connect({ servers: NATS_URL });
    const stream = uniqueName("qs-e2e");
    // The workers' own stream while the control-plane checks need a backlog that stays put.
    const idleStream = `${stream}-idle`;
    let disposed = false;
    const dispose = async () => {
      if (disposed) return;
      disposed = true;
      try {
        const jsm = await jetstreamManager(nc);
        // The workers (DECLARE=true) add a dead-letter stream and its max-deliveries stream to each.
        const owned = [stream, idleStream].flatMap((name) => [name, `${name}_DEAD`, `${name}_DEAD_EXHAUSTED`]);
        await deleteStreams(jsm, owned);
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
        // The overlay gives it its own Secret key (nats-exporter-url): its broker connection can be
        // cut without the workers'.
        "queuescale-exporter": { QUEUE_INCLUDE: exactPattern(stream) },
        // Declared by the workers, deleted at the end.
        "queuescale-worker": { STREAM: idleStream, SUBJECTS: `${idleStream}.>`, CONSUMER },
        "queuescale-producer": { STREAM: stream },
      },
      drainingWorker: { STREAM: stream, SUBJECTS: `${stream}.>`, CONSUMER },
      // The producer publishes queue NAME to subject STREAM.NAME, which the consumer reads.
      producerQueue: CONSUMER,
      exporterUpstreamPort: NATS_PORT,
      clientUpstreamPort: NATS_PORT,
      secret: (relays) => ({
        "nats-url": `nats://${relays.clients}`,
        "nats-exporter-url": `nats://${relays.exporter}`,
        "admin-token": ADMIN_TOKEN,
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
