import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@queuescale/core";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { MANAGEMENT_URL, RabbitScenario, countsIn } from "@queuescale/test-support/rabbitmq/scenario";
import { eventually, uniqueName } from "@queuescale/test-support/names";
import { scrape } from "@queuescale/test-support/scrape";
import { startExporter, type RunningExporter } from "../src/exporter.js";

/**
 * The read-only RabbitMQ user docs/kubernetes.md tells operators to give the exporter (key
 * rabbitmq-management-url): tag `monitoring`, configure and write nothing, read the vhost.
 */
const admin = new RabbitAdmin(MANAGEMENT_URL);
const user = uniqueName("queuescale-monitor");
const password = "monitor-pw";
let scenario: RabbitScenario;
const running: RunningExporter[] = [];

beforeAll(async () => {
  scenario = await RabbitScenario.create([{ name: "jobs", published: 3, held: 0 }]);
  await admin.request("PUT", `/users/${encodeURIComponent(user)}`, { password, tags: "monitoring" });
  await admin.request("PUT", `/permissions/${encodeURIComponent(scenario.vhost)}/${encodeURIComponent(user)}`, {
    configure: "^$",
    write: "^$",
    read: ".*",
  });
});

afterAll(async () => {
  await Promise.all(running.map((exporter) => exporter.stop()));
  await admin.request("DELETE", `/users/${encodeURIComponent(user)}`);
  await scenario?.dispose();
});

describe("the exporter with the documented RabbitMQ monitoring user", { timeout: 60_000 }, () => {
  const managementUrl = () => {
    const url = new URL(MANAGEMENT_URL);
    url.username = user;
    url.password = password;
    return url.toString();
  };

  it("reads the queue's depth through the management API", async () => {
    const exporter = await startExporter(
      {
        env: {
          RABBITMQ_MANAGEMENT_URL: managementUrl(),
          RABBITMQ_VHOSTS: scenario.vhost,
          LISTEN_ADDRESS: "127.0.0.1:0",
          POLL_INTERVAL_SECONDS: "1",
        },
      },
      createLogger("test", "silent"),
    );
    running.push(exporter);
    await eventually(
      async () => {
        const counts = countsIn(await scrape(`http://127.0.0.1:${exporter.port}`), scenario.vhost);
        return counts.jobs?.depth === 3 ? counts : undefined;
      },
      { timeoutMs: 40_000, what: "the queue's depth" },
    );
  });

  it("can neither publish nor declare with it", async () => {
    const base = new URL(managementUrl());
    const declare = await fetch(new URL(`/api/queues/${encodeURIComponent(scenario.vhost)}/other`, base.origin), {
      method: "PUT",
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(declare.status).toBe(401);
    const connection = await amqp.connect(
      `amqp://${user}:${password}@127.0.0.1:5672/${encodeURIComponent(scenario.vhost)}`,
    );
    try {
      const channel = await connection.createConfirmChannel();
      channel.on("error", () => undefined);
      channel.sendToQueue("jobs", Buffer.from("not allowed"));
      await expect(channel.waitForConfirms()).rejects.toThrow();
    } finally {
      await connection.close().catch(() => undefined);
    }
    expect((await admin.queues(scenario.vhost)).find((queue) => queue.name === "jobs")?.messages_ready).toBe(3);
  });
});
