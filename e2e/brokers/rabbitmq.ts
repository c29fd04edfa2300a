import amqp from "amqplib";
import { uniqueName } from "@queuescale/test-support/names";
import { ADMIN_TOKEN, type BrokerFixture, type BrokerModule } from "./types.js";

const AMQP_PORT = 5672;
const MANAGEMENT_PORT = 15672;
const USER = "guest";
const PASSWORD = "guest";
const MANAGEMENT = `http://127.0.0.1:${MANAGEMENT_PORT}`;
/** The queue name the rabbitmq overlay's workers consume; it lives in the run's own vhost. */
const QUEUE = "jobs";
/** The queue the workers consume while the control-plane checks need a backlog that stays put. */
const IDLE_QUEUE = "idle";

async function management(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${MANAGEMENT}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await response.body?.cancel();
  if (!response.ok && !(method === "DELETE" && response.status === 404)) {
    throw new Error(`RabbitMQ management ${method} ${path}: HTTP ${response.status}`);
  }
}

/**
 * A vhost of the run's own on the shared RabbitMQ, holding the overlay's queue `jobs`. Deleting
 * the vhost deletes the queue with it.
 */
export const rabbitmq: BrokerModule = {
  broker: "rabbitmq",
  async create(): Promise<BrokerFixture> {
    const vhost = uniqueName("qs-e2e");
    const vhostPath = encodeURIComponent(vhost);
    const queuePath = `${vhostPath}/${encodeURIComponent(QUEUE)}`;
    await management("PUT", `/api/vhosts/${vhostPath}`, {});
    let disposed = false;
    const dispose = async () => {
      if (disposed) return;
      disposed = true;
      await management("DELETE", `/api/vhosts/${vhostPath}`);
    };
    try {
      await management("PUT", `/api/permissions/${vhostPath}/${USER}`, { configure: ".*", write: ".*", read: ".*" });
      await management("PUT", `/api/queues/${queuePath}`, { durable: true, auto_delete: false });
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
        await management("DELETE", `/api/queues/${queuePath}/contents`);
      },
      dispose,
    };
  },
};
