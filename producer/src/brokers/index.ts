import type { BrokerName } from "@queuescale/core";
import { natsProducer } from "./nats.js";
import { rabbitmqProducer } from "./rabbitmq.js";
import type { ProducerBrokerModule } from "./types.js";

/** The brokers the producer publishes to, keyed by the BROKER setting. */
export const PRODUCER_BROKERS: Readonly<Record<BrokerName, ProducerBrokerModule>> = {
  rabbitmq: rabbitmqProducer,
  nats: natsProducer,
};

export * from "./types.js";
