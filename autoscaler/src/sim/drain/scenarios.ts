import type { DrainModel } from "./model.js";

/**
 * The three workloads the drain-time comparison is about. Each fills in only the traffic and the
 * handler; the pipeline, T and the rest come from the command line.
 */
export const SCENARIOS = {
  burst: {
    describe: "one burst of 5,000 messages at t=10 s, handler 0.4 s",
    bursts: [{ t: 10, messages: 5000 }],
    rates: [],
    handler: [{ from: 0, secondsPerMessage: 0.4 }],
  },
  "steady-bursts": {
    describe: "20/s all along with bursts of 2,000 at t=120, 420 and 720 s, handler 0.4 s",
    bursts: [
      { t: 120, messages: 2000 },
      { t: 420, messages: 2000 },
      { t: 720, messages: 2000 },
    ],
    rates: [{ from: 0, to: 900, perSecond: 20 }],
    handler: [{ from: 0, secondsPerMessage: 0.4 }],
  },
  slowdown: {
    describe: "20/s all along, the handler 10× slower from t=300 s (0.4 s → 4 s)",
    bursts: [],
    rates: [{ from: 0, to: 900, perSecond: 20 }],
    handler: [
      { from: 0, secondsPerMessage: 0.4 },
      { from: 300, secondsPerMessage: 4 },
    ],
  },
} satisfies Record<string, Pick<DrainModel, "bursts" | "rates" | "handler"> & { describe: string }>;

export type ScenarioName = keyof typeof SCENARIOS;

export function isScenario(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}
