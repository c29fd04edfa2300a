import { jetStreamDepthSources, NameFilter, natsAdapter, type DepthSource, type Logger } from "@queuescale/core";
import type { WorkerBrokerModule } from "../types.js";
import { NatsConsumer } from "./consumer.js";
import { natsTarget, natsWorkerSettings, type NatsWorkerSettings } from "./settings.js";

export const natsWorkerModule: WorkerBrokerModule<typeof natsWorkerSettings> = {
  adapter: natsAdapter,
  settings: natsWorkerSettings,
  createConsumer(settings, options, hooks) {
    return new NatsConsumer(natsTarget(settings), options, hooks);
  },
  createDepthSources(settings: NatsWorkerSettings, logger: Logger): DepthSource[] {
    const { url, stream, consumer } = natsTarget(settings);
    return jetStreamDepthSources(url, NameFilter.exactly([stream, consumer]), logger);
  },
  identity(settings) {
    const { stream, consumer } = natsTarget(settings);
    return { stream, consumer };
  },
};
