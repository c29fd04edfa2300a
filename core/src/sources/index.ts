import type { BrokerModule } from "./broker.js";
import { natsModule } from "./nats/index.js";
import { rabbitmqModule } from "./rabbitmq/index.js";

/** Every broker queuescale can read. Adding a broker means adding a folder and a line here. */
export const BROKER_MODULES: readonly BrokerModule[] = [rabbitmqModule, natsModule] as unknown as BrokerModule[];

export { natsModule, rabbitmqModule };
