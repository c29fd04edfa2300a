import { BROKER_HARNESSES } from "@queuescale/test-support/brokers";
import { describeWorkerScenarios } from "./support/scenarios.js";

// The worker's delivery guarantees, once per broker that has a test harness.
for (const harness of BROKER_HARNESSES) describeWorkerScenarios(harness);
