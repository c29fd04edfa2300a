// k6 load against the producer API: POST /v1/queues/<QUEUE>/messages with batches of JSON messages.
// Run by loadtest/run.ts (`make loadtest`), which starts the local stack and checks afterwards that
// every accepted message was processed. Settings (environment, `k6 run -e NAME=value`):
//
//   PRODUCER_URL      base URL of the producer (required)
//   QUEUE             queue name in the producer API (required)
//   SCENARIO          burst | ramp | soak | smoke (default burst)
//   BATCH             messages per request (default 100; smoke 20)
//   P95_MS            p95 bound on request time in ms, until the broker confirmed (default 2000; burst
//                     5000, as its 16 users keep 16 batches waiting for confirms at once)
//   BURST_MESSAGES    burst: messages in all (default 50000), sent by BURST_VUS (default 16) at once
//   RAMP_RATES        ramp: requests per second of each step, comma-separated (default 2,5,10,20,40)
//   RAMP_STEP         ramp: how long each step holds (default 30s)
//   SOAK_RATE         soak/smoke: requests per second (default 5; smoke 10)
//   SOAK_DURATION     soak: how long (default 30m); smoke runs SMOKE_DURATION (default 5s)
/* global __ENV, __VU, __ITER */
import http from "k6/http";
import { check } from "k6";
import { Counter } from "k6/metrics";

const env = (name, fallback) => (__ENV[name] === undefined || __ENV[name] === "" ? fallback : __ENV[name]);
const scenarioName = env("SCENARIO", "burst");
const producerUrl = env("PRODUCER_URL");
const queue = env("QUEUE");
if (!producerUrl || !queue) throw new Error("PRODUCER_URL and QUEUE are required");
const batch = Number(env("BATCH", scenarioName === "smoke" ? 20 : 100));
const p95Ms = Number(env("P95_MS", scenarioName === "burst" ? 5000 : 2000));

// Messages the producer answered 202 for: the figure the processed count is compared with.
const accepted = new Counter("messages_accepted");
const refused = new Counter("messages_refused");

function rampStages() {
  const step = env("RAMP_STEP", "30s");
  // A step: a short climb to the next rate, then a hold at it.
  return env("RAMP_RATES", "2,5,10,20,40")
    .split(",")
    .map(Number)
    .flatMap((rate) => [
      { target: rate, duration: "2s" },
      { target: rate, duration: step },
    ]);
}

const scenarios = {
  burst: () => {
    const messages = Number(env("BURST_MESSAGES", 50000));
    return {
      executor: "shared-iterations",
      vus: Number(env("BURST_VUS", 16)),
      iterations: Math.ceil(messages / batch),
      maxDuration: env("BURST_MAX_DURATION", "10m"),
    };
  },
  ramp: () => ({
    executor: "ramping-arrival-rate",
    startRate: 1,
    timeUnit: "1s",
    preAllocatedVUs: 20,
    maxVUs: 200,
    stages: rampStages(),
  }),
  soak: () => ({
    executor: "constant-arrival-rate",
    rate: Number(env("SOAK_RATE", 5)),
    timeUnit: "1s",
    duration: env("SOAK_DURATION", "30m"),
    preAllocatedVUs: 10,
    maxVUs: 100,
  }),
  smoke: () => ({
    executor: "constant-arrival-rate",
    rate: Number(env("SOAK_RATE", 10)),
    timeUnit: "1s",
    duration: env("SMOKE_DURATION", "5s"),
    preAllocatedVUs: 5,
    maxVUs: 20,
  }),
};
if (!scenarios[scenarioName]) throw new Error(`SCENARIO must be one of ${Object.keys(scenarios).join(", ")}`);

export const options = {
  scenarios: { [scenarioName]: scenarios[scenarioName]() },
  thresholds: {
    http_req_failed: ["rate<0.001"],
    http_req_duration: [`p(95)<${p95Ms}`],
    checks: ["rate>0.999"],
  },
  // The summary the harness reads: counts, not only rates.
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const url = `${producerUrl}/v1/queues/${encodeURIComponent(queue)}/messages`;
const params = { headers: { "Content-Type": "application/json" }, tags: { name: "publish" } };

export default function publish() {
  const messages = [];
  for (let index = 0; index < batch; index++) {
    messages.push({ body: { vu: __VU, iteration: __ITER, index } });
  }
  const response = http.post(url, JSON.stringify({ messages }), params);
  const count = response.status === 202 ? (response.json("accepted") ?? 0) : 0;
  accepted.add(count);
  refused.add(batch - count);
  check(response, {
    "202 Accepted": (r) => r.status === 202,
    "every message of the batch accepted": () => count === batch,
  });
}
