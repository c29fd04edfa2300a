import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/log.js";
import { NameFilter } from "../src/sources/filter.js";
import { ManagementSource } from "../src/brokers/rabbitmq/management.js";
import type { QueueReading } from "../src/sources/types.js";
import { MANAGEMENT_URL, RabbitScenario } from "@queuescale/test-support/rabbitmq/scenario";
import { eventually } from "@queuescale/test-support/names";

// Seven queues read two per page: four pages, walked until page_count, in a vhost whose name has a `/`.
const QUEUES = [
  { name: "page.a", published: 1, held: 0 },
  { name: "page b", published: 2, held: 0 },
  { name: "page-ü", published: 3, held: 1 },
  { name: "page.d", published: 4, held: 0 },
  { name: "other.e", published: 5, held: 2 },
  { name: "other f", published: 6, held: 0 },
  { name: "other-队列", published: 7, held: 0 },
];

let scenario: RabbitScenario;
beforeAll(async () => {
  scenario = await RabbitScenario.create(QUEUES);
});
afterAll(async () => {
  await scenario?.dispose();
});

function source(filter: NameFilter): ManagementSource {
  return new ManagementSource({
    url: MANAGEMENT_URL,
    selection: { filter, vhosts: [scenario.vhost] },
    logger: createLogger("test", "silent"),
    pageSize: 2,
  });
}

function expectedFor(names: readonly string[]) {
  return scenario.queues
    .filter((queue) => names.includes(queue.name))
    .map((queue) => {
      const counts = scenario.expected(queue);
      return { queue: queue.name, ...counts };
    })
    .sort((a, b) => (a.queue < b.queue ? -1 : 1));
}

const summary = (readings: readonly QueueReading[]) =>
  readings
    .map((reading) => ({
      queue: reading.labels.queue!,
      depth: reading.depth,
      ready: reading.ready,
      unacked: reading.unacked,
      consumers: reading.consumers,
    }))
    .sort((a, b) => (a.queue < b.queue ? -1 : 1));

describe("management source paging against the real broker", () => {
  it("reads every page of a vhost with / in its name", async () => {
    const management = source(NameFilter.all());
    await eventually(async () => {
      const snapshot = await management.poll(AbortSignal.timeout(10_000));
      expect(summary(snapshot.readings)).toEqual(expectedFor(QUEUES.map((queue) => queue.name)));
      for (const reading of snapshot.readings) expect(reading.labels.vhost).toBe(scenario.vhost);
      return true;
    });
  });

  it("filters by QUEUE_INCLUDE on the server and QUEUE_EXCLUDE locally, across pages", async () => {
    const management = source(new NameFilter(/^page/u, /b$/u));
    await eventually(async () => {
      const snapshot = await management.poll(AbortSignal.timeout(10_000));
      expect(summary(snapshot.readings)).toEqual(expectedFor(["page.a", "page-ü", "page.d"]));
      return true;
    });
  });

  it("answers not_found for a vhost that does not exist", async () => {
    const management = new ManagementSource({
      url: MANAGEMENT_URL,
      selection: { filter: NameFilter.all(), vhosts: [`${scenario.vhost}-missing`] },
      logger: createLogger("test", "silent"),
    });
    await expect(management.poll(AbortSignal.timeout(10_000))).rejects.toMatchObject({ reason: "not_found" });
  });
});
