import { natsWorkerModule } from "./nats/index.js";
import { rabbitmqWorkerModule } from "./rabbitmq/index.js";
import type { WorkerBrokerModule } from "./types.js";

/**
 * The brokers a worker can consume: one consumer per adapter of core's list that can be consumed.
 * A broker that is only read (a depth-only adapter) has none; the BROKER setting lists these.
 */
export const WORKER_BROKERS: readonly WorkerBrokerModule[] = [rabbitmqWorkerModule, natsWorkerModule];

/** The consumer of the broker named by BROKER. */
export function workerBroker(name: string): WorkerBrokerModule {
  const found = WORKER_BROKERS.find((module) => module.adapter.name === name);
  // BROKER is validated against WORKER_BROKERS' names before this is called.
  if (!found) throw new Error(`no consumer for broker ${name}`);
  return found;
}
