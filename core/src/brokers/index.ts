import type { BrokerAdapter } from "./adapter.js";
import { natsAdapter } from "./nats/index.js";
import { rabbitmqAdapter } from "./rabbitmq/index.js";

/**
 * Every broker queuescale knows. Adding one is a folder next to these and a line here (see
 * docs/adding-a-broker.md): the `broker` label values, the identity labels of the metric contract,
 * the exporter's settings and the generated monitoring rules all follow from this list.
 */
export const BROKER_ADAPTERS = [rabbitmqAdapter, natsAdapter] as const satisfies readonly BrokerAdapter[];

export { natsAdapter, rabbitmqAdapter };

type Adapter = (typeof BROKER_ADAPTERS)[number];
type UnionToIntersection<U> = (U extends unknown ? (union: U) => void : never) extends (all: infer I) => void
  ? I
  : never;

/**
 * The producer's broker settings: those of every adapter that can be published to, each declared
 * in its broker folder.
 */
export const PRODUCER_BROKER_SETTINGS = Object.assign(
  {},
  ...BROKER_ADAPTERS.map((adapter: BrokerAdapter) => adapter.producer?.settings ?? {}),
) as UnionToIntersection<NonNullable<Adapter["producer"]>["settings"]>;
