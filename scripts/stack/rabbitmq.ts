import type { BrokerPlan, Selector } from "./types.js";

const MANAGEMENT = "http://127.0.0.1:15672";
const AUTH = `Basic ${Buffer.from("guest:guest").toString("base64")}`;

async function management(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${MANAGEMENT}${path}`, {
    method,
    headers: { Authorization: AUTH, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/**
 * The overlay's queue and vhost (a vhost of its own for this run when `suffix` is given): created
 * when missing, removed after.
 */
export function rabbitmqPlan(overlaySelector: Selector, suffix?: string): BrokerPlan {
  const vhost = suffix ? `${overlaySelector.vhost ?? "queuescale"}-${suffix}` : (overlaySelector.vhost ?? "/");
  const selector = { ...overlaySelector, vhost };
  const queue = overlaySelector.queue!;
  let createdVhost = false;
  const url = `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`;
  return {
    selector,
    queue,
    describe: `RabbitMQ queue "${queue}" in vhost "${vhost}"`,
    env: {
      BROKER: "rabbitmq",
      RABBITMQ_URL: url,
      RABBITMQ_MANAGEMENT_URL: "http://guest:guest@127.0.0.1:15672",
      RABBITMQ_VHOSTS: vhost,
      QUEUE: queue,
      QUEUE_INCLUDE: `^${queue.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
    },
    async setUp() {
      const existing = await management("GET", `/api/vhosts/${encodeURIComponent(vhost)}`);
      if (existing.status === 404) {
        const created = await management("PUT", `/api/vhosts/${encodeURIComponent(vhost)}`);
        if (!created.ok) throw new Error(`cannot create vhost ${vhost}: ${created.status}`);
        createdVhost = true;
        await management("PUT", `/api/permissions/${encodeURIComponent(vhost)}/guest`, {
          configure: ".*",
          write: ".*",
          read: ".*",
        });
      }
      const queueInfo = await management(
        "GET",
        `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
      );
      if (queueInfo.ok) {
        const { messages } = (await queueInfo.json()) as { messages?: number };
        if ((messages ?? 0) > 0) throw new Error(`queue ${queue} in vhost ${vhost} already holds ${messages} messages`);
      }
    },
    async tearDown() {
      if (createdVhost) {
        await management("DELETE", `/api/vhosts/${encodeURIComponent(vhost)}`);
        return;
      }
      for (const name of [queue, `${queue}.retry`, `${queue}.dead`]) {
        await management("DELETE", `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`);
      }
    },
  };
}
