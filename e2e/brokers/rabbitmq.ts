import amqp from "amqplib";
import { uniqueName } from "@queuescale/test-support/names";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { ADMIN_TOKEN, type BrokerFixture, type BrokerModule } from "./types.js";

const AMQP_PORT = 5672;
const MANAGEMENT_PORT = 15672;
const USER = "guest";
const PASSWORD = "guest";
const admin = new RabbitAdmin(`http://${USER}:${PASSWORD}@127.0.0.1:${MANAGEMENT_PORT}`);
/** The queue name the rabbitmq overlay's workers consume; it lives in the run's own vhost. */
const QUEUE = "jobs";
/** The queue the workers consume while the control-plane checks need a backlog that stays put. */
const IDLE_QUEUE = "idle";

/**
 * A vhost of the run's own on the shared RabbitMQ, holding the overlay's queue `jobs`. Deleting
 * the vhost deletes the queue with it.
 */
export const rabbitmq: BrokerModule = {
  broker: "rabbitmq",
  async create(): Promise<BrokerFixture> {
    const vhost = uniqueName("qs-e2e");
    const vhostPath = encodeURIComponent(vhost);
    let disposed = false;
    const dispose = async () => {
      if (disposed) return;
      disposed = true;
      await admin.deleteVhost(vhost);
    };
    try {
      // A vhost that failed half-way is deleted too (deleting one that was never made is no error).
      await admin.createVhost(vhost, USER);
      await admin.createQueue(vhost, QUEUE, { durable: true });
    } catch (error) {
      await dispose();
      throw error;
    }
    const amqpUrl = `amqp://${USER}:${PASSWORD}@127.0.0.1:${AMQP_PORT}/${vhostPath}`;
    return {
      broker: "rabbitmq",
      description: `rabbitmq vhost ${vhost} queue ${QUEUE}`,
      selector: { broker: "rabbitmq", vhost, queue: QUEUE },
      settings: {
        "queuescale-exporter": { RABBITMQ_VHOSTS: vhost },
        // Declared by the workers in the run's vhost, deleted with it.
        "queuescale-worker": { QUEUE: IDLE_QUEUE },
      },
      drainingWorker: { QUEUE },
      producerQueue: QUEUE,
      exporterUpstreamPort: MANAGEMENT_PORT,
      clientUpstreamPort: AMQP_PORT,
      secret: (relays) => ({
        "rabbitmq-url": `amqp://${USER}:${PASSWORD}@${relays.clients}/${vhostPath}`,
        "rabbitmq-management-url": `http://${USER}:${PASSWORD}@${relays.exporter}`,
        "admin-token": ADMIN_TOKEN,
      }),
      async publish(count) {
        const connection = await amqp.connect(amqpUrl);
        try {
          const channel = await connection.createConfirmChannel();
          for (let index = 0; index < count; index++) {
            channel.sendToQueue(QUEUE, Buffer.from(`e2e message ${index}`), { persistent: false });
          }
          await channel.waitForConfirms();
        } finally {
          await connection.close();
        }
      },
      async purge() {
        await admin.purgeQueue(vhost, QUEUE);
      },
      dispose,
    };
  },
};
