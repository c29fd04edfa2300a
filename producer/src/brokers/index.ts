import { BROKER_ADAPTERS, type BrokerAdapter, type ProducerBrokerModule } from "@queuescale/core";

/** An adapter the producer can publish to. */
export type PublishedAdapter = BrokerAdapter & { readonly producer: ProducerBrokerModule };

/**
 * The brokers the producer publishes to: the adapters of core's list with the producer capability.
 * The BROKER setting lists these.
 */
export const PRODUCER_BROKERS: readonly PublishedAdapter[] = BROKER_ADAPTERS.filter(
  (adapter: BrokerAdapter): adapter is PublishedAdapter => adapter.producer !== undefined,
);

/** The adapter named by BROKER. */
export function producerBroker(name: string): PublishedAdapter {
  const found = PRODUCER_BROKERS.find((adapter) => adapter.name === name);
  // BROKER is validated against PRODUCER_BROKERS' names before this is called.
  if (!found) throw new Error(`no publisher for broker ${name}`);
  return found;
}

export * from "./types.js";
