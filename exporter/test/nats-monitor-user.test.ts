import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { createLogger } from "@queuescale/core";
import { JetStreamScenario } from "@queuescale/test-support/nats/scenario";
import { eventually } from "@queuescale/test-support/names";
import { startNatsServer, type NatsTestServer } from "@queuescale/test-support/nats-server";
import { findSamples, scrape } from "@queuescale/test-support/scrape";
import { startExporter, type RunningExporter } from "../src/exporter.js";

/**
 * The read-only NATS user docs/kubernetes.md tells operators to give the exporter (key
 * nats-exporter-url): the permissions below are copied from there, and a test fails when the
 * exporter needs more.
 */
const MONITOR_PUBLISH = ["$JS.API.INFO", "$JS.API.STREAM.LIST", "$JS.API.CONSUMER.LIST.>", "$JS.API.STREAM.MSG.GET.>"];
const MONITOR_PASSWORD = "monitor-pw";

let dir: string;
let server: NatsTestServer;
let scenario: JetStreamScenario;
const running: RunningExporter[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "queuescale-nats-users-"));
  const config = join(dir, "users.conf");
  // Connections without credentials are the admin (the test's own set-up); the exporter logs in.
  writeFileSync(
    config,
    `authorization {
  users = [
    { user: admin, password: admin-pw }
    { user: monitor, password: ${MONITOR_PASSWORD}, permissions: {
        publish: { allow: ${JSON.stringify(MONITOR_PUBLISH)} }
        subscribe: { allow: ["_INBOX.>"] } } }
  ]
}
no_auth_user: admin
`,
  );
  server = await startNatsServer({ args: ["-c", config] });
  scenario = await JetStreamScenario.create(server.url);
  await scenario.addPullConsumer("workers", { filter: "jobs" });
  await scenario.publish("jobs", 4);
}, 30_000);

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
  await scenario?.dispose();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the exporter with the documented read-only NATS user", { timeout: 60_000 }, () => {
  it("reads the consumer's depth and oldest message age", async () => {
    const monitorUrl = new URL(server.url);
    monitorUrl.username = "monitor";
    monitorUrl.password = MONITOR_PASSWORD;
    const exporter = await startExporter(
      { env: { NATS_URL: monitorUrl.toString(), LISTEN_ADDRESS: "127.0.0.1:0", POLL_INTERVAL_SECONDS: "1" } },
      createLogger("test", "silent"),
    );
    running.push(exporter);
    const labels = { broker: "nats", stream: scenario.stream, consumer: "workers" };
    const samples = await eventually(async () => {
      const samples = await scrape(`http://127.0.0.1:${exporter.port}`);
      return findSamples(samples, "queuescale_queue_depth", labels)[0]?.value === 4 ? samples : undefined;
    });
    expect(findSamples(samples, "queuescale_queue_oldest_message_age_seconds", labels)).toHaveLength(1);
    expect(findSamples(samples, "queuescale_source_up", { broker: "nats" })[0]?.value).toBe(1);
  });

  it("cannot publish into the stream or change it with that user", async () => {
    const nc = await connect({ servers: server.url, user: "monitor", pass: MONITOR_PASSWORD });
    try {
      await expect(jetstream(nc).publish(scenario.subject("jobs"), "not allowed")).rejects.toThrow();
      await expect(nc.request(`$JS.API.STREAM.DELETE.${scenario.stream}`, "", { timeout: 2000 })).rejects.toThrow();
    } finally {
      await nc.close();
    }
    expect((await scenario.jsm.streams.info(scenario.stream)).state.messages).toBe(4);
  });
});
