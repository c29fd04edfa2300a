import { natsProducer } from "./nats.js";
import { rabbitmqProducer } from "./rabbitmq.js";
import type { ProducerBrokerModule } from "./types.js";

/**
 * The brokers the producer publishes to: one publisher per adapter of core's list that can be
 * published to. The BROKER setting lists these.
 */
export const PRODUCER_BROKERS: readonly ProducerBrokerModule[] = [rabbitmqProducer, natsProducer];

/** The publisher of the broker named by BROKER. */
export function producerBroker(name: string): ProducerBrokerModule {
  const found = PRODUCER_BROKERS.find((module) => module.adapter.name === name);
  // BROKER is validated against PRODUCER_BROKERS' names before this is called.
  if (!found) throw new Error(`no publisher for broker ${name}`);
  return found;
}

export * from "./types.js";
