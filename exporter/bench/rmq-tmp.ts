import { NameFilter, createLogger, rabbitmqAdapter, readSettings } from "@queuescale/core";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { AMQP_BASE, MANAGEMENT_URL, PROMETHEUS_URL } from "@queuescale/test-support/rabbitmq/scenario";
import { uniqueName } from "@queuescale/test-support/names";
import { createBenchQueues } from "./populate.js";
import { fetchBody } from "../../loadtest/bench/measure.js";
const N = Number(process.env.N ?? 1000);
const admin = new RabbitAdmin(MANAGEMENT_URL);
const vhost = uniqueName("qs-tmp");
await admin.createVhost(vhost);
try {
  await createBenchQueues(`${AMQP_BASE}/${encodeURIComponent(vhost)}`, N);
  await new Promise((r) => setTimeout(r, 6000));
  const query = new URLSearchParams([
    ["family", "queue_coarse_metrics"],
    ["family", "queue_consumer_count"],
    ["vhost", vhost],
  ]);
  const url = `${PROMETHEUS_URL}/metrics/detailed?${query}`;
  const env = { RABBITMQ_SOURCE: "prometheus", RABBITMQ_VHOSTS: vhost, RABBITMQ_PROMETHEUS_URL: PROMETHEUS_URL };
  const [source] = rabbitmqAdapter.depth.createSources(readSettings(rabbitmqAdapter.settings, { env }), {
    filter: NameFilter.all(),
    logger: createLogger("x", "warn"),
  });
  const { getText, httpEndpoint } = await import("../../core/dist/sources/http-get.js");
  const { detailedMetricsUrl } = await import("../../core/dist/brokers/rabbitmq/prometheus.js");
  const ep = httpEndpoint(PROMETHEUS_URL);
  const u = detailedMetricsUrl(ep, [vhost]);
  console.log(url);
  console.log(u.toString());
  const fns: Record<string, () => Promise<number>> = {
    endpoint: async () => (await fetchBody(url)).length,
    endpointAccept: async () => (await fetchBody(url, { headers: { accept: "text/plain" } })).length,
    getText: async () => (await getText(ep, u, AbortSignal.timeout(30000))).length,
    poll: async () => (await source!.poll(AbortSignal.timeout(30000))).readings.length,
  };
  const t: Record<string, number[]> = {};
  for (let r = 0; r < 30; r++)
    for (const k of Object.keys(fns)) {
      const s = performance.now();
      const n = await fns[k]!();
      (t[k] ??= []).push(performance.now() - s);
      if (r === 0) console.log(k, n);
    }
  for (const k of Object.keys(t)) {
    const v = t[k]!.slice(1).sort((a, b) => a - b);
    console.log(k.padEnd(15), "median", v[Math.floor(v.length / 2)]!.toFixed(1), "min", v[0]!.toFixed(1));
  }
} finally {
  await admin.deleteVhost(vhost);
}
