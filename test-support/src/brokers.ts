import type { BrokerName } from "@queuescale/core";
import type { BrokerHarness } from "./broker-harness.js";
import { natsHarness } from "./nats/harness.js";
import { rabbitmqHarness } from "./rabbitmq/harness.js";

export type {
  BrokerHarness,
  DeadLetter,
  ProducerTarget,
  StoredMessage,
  TestMessage,
  WorkerTarget,
} from "./broker-harness.js";

/** The test harness of every broker the worker and the producer speak; their shared scenarios run once per entry. */
export const BROKER_HARNESSES: readonly BrokerHarness[] = [rabbitmqHarness, natsHarness];

/** The harness of one broker, by name. */
export function harnessOf(broker: BrokerName): BrokerHarness {
  const harness = BROKER_HARNESSES.find((candidate) => candidate.broker === broker);
  if (!harness) throw new Error(`no test harness for broker ${broker}`);
  return harness;
}

/** The names of the brokers with a harness, for `describe.each`. */
export const HARNESSED_BROKERS: readonly BrokerName[] = BROKER_HARNESSES.map((harness) => harness.broker);
