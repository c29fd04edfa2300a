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
