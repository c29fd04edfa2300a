import { natsPlan } from "./nats.js";
import { rabbitmqPlan } from "./rabbitmq.js";
import type { BrokerPlan, Selector } from "./types.js";

export type { BrokerPlan, Selector };

/** One plan per broker, chosen by BROKER; the demo itself never names a broker. */
export const BROKER_PLANS: Record<string, (selector: Selector) => BrokerPlan> = {
  rabbitmq: rabbitmqPlan,
  nats: natsPlan,
};
