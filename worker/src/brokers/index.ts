import { BROKER_ADAPTERS, type BrokerAdapter, type WorkerBrokerModule } from "@queuescale/core";

/** An adapter the worker can consume. */
export type ConsumedAdapter = BrokerAdapter & { readonly worker: WorkerBrokerModule };

/**
 * The brokers a worker can consume: the adapters of core's list with the worker capability. A
 * broker that is only read (a depth-only adapter) has none; the BROKER setting lists these.
 */
export const WORKER_BROKERS: readonly ConsumedAdapter[] = BROKER_ADAPTERS.filter(
  (adapter: BrokerAdapter): adapter is ConsumedAdapter => adapter.worker !== undefined,
);

/** The adapter named by BROKER. */
export function workerBroker(name: string): ConsumedAdapter {
  const found = WORKER_BROKERS.find((adapter) => adapter.name === name);
  // BROKER is validated against WORKER_BROKERS' names before this is called.
  if (!found) throw new Error(`no consumer for broker ${name}`);
  return found;
}
