import { exactPattern } from "@queuescale/core";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { MANAGEMENT_URL } from "@queuescale/test-support/rabbitmq/scenario";
import type { BrokerPlan, Selector } from "./types.js";

/**
 * The overlay's queue and vhost (a vhost of its own for this run when `suffix` is given): created
 * when missing, removed after.
 */
export function rabbitmqPlan(overlaySelector: Selector, suffix?: string): BrokerPlan {
  const vhost = suffix ? `${overlaySelector.vhost ?? "queuescale"}-${suffix}` : (overlaySelector.vhost ?? "/");
  const selector = { ...overlaySelector, vhost };
  const queue = overlaySelector.queue!;
  const admin = new RabbitAdmin(MANAGEMENT_URL);
  let createdVhost = false;
  return {
    selector,
    queue,
    describe: `RabbitMQ queue "${queue}" in vhost "${vhost}"`,
    env: {
      BROKER: "rabbitmq",
      RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`,
      RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL,
      RABBITMQ_VHOSTS: vhost,
      QUEUE: queue,
      QUEUE_INCLUDE: exactPattern(queue),
    },
    async setUp() {
      if (!(await admin.hasVhost(vhost))) {
        await admin.createVhost(vhost);
        createdVhost = true;
      }
      const messages = await admin.queueMessages(vhost, queue);
      if ((messages ?? 0) > 0) throw new Error(`queue ${queue} in vhost ${vhost} already holds ${messages} messages`);
    },
    async tearDown() {
      if (createdVhost) {
        await admin.deleteVhost(vhost);
        return;
      }
      for (const name of [queue, `${queue}.retry`, `${queue}.dead`]) await admin.deleteQueue(vhost, name);
    },
  };
}
