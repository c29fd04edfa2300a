import { jetStreamDepthSources } from "../jetstream-source.js";
import { NameFilter } from "../../../sources/filter.js";
import type { DepthSource } from "../../../sources/types.js";
import type { Logger } from "pino";
import type { WorkerBrokerModule } from "../../../consumer/types.js";
import { NatsConsumer } from "./consumer.js";
import { natsTarget, natsWorkerSettings, type NatsWorkerSettings } from "./settings.js";

export const natsWorkerModule: WorkerBrokerModule<typeof natsWorkerSettings> = {
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
