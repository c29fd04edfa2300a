import { natsHarness } from "./support/brokers.js";
import { describeWorkerScenarios } from "./support/scenarios.js";

describeWorkerScenarios(natsHarness);
