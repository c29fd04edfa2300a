import { natsPlan } from "./nats.js";
import { rabbitmqPlan } from "./rabbitmq.js";
import type { BrokerPlan, PlanFactory, Selector } from "./types.js";

export type { BrokerPlan, PlanFactory, Selector };

/** One plan per broker, chosen by BROKER; the demo itself never names a broker. */
export const BROKER_PLANS: Record<string, PlanFactory> = {
  rabbitmq: rabbitmqPlan,
  nats: natsPlan,
};
