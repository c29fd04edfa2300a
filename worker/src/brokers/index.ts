import type { BrokerName } from "@queuescale/core";
import { natsWorkerModule } from "./nats.js";
import { rabbitmqWorkerModule } from "./rabbitmq.js";
import type { WorkerBrokerModule } from "./types.js";

/** The brokers a worker can consume, keyed by the BROKER setting. Adding one is a file and a line here. */
export const WORKER_BROKERS: Readonly<Record<BrokerName, WorkerBrokerModule>> = {
  rabbitmq: rabbitmqWorkerModule as unknown as WorkerBrokerModule,
  nats: natsWorkerModule as unknown as WorkerBrokerModule,
};
