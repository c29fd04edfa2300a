import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { mergeReadings } from "../src/sources/merge.js";
import { readingFromDeclareOk, vhostOfAmqpUrl, type DeclareOk } from "../src/brokers/rabbitmq/amqp-reading.js";
import { Re2Pattern } from "../src/sources/filter.js";
import { parseManagementPage, serverSideNamePattern } from "../src/brokers/rabbitmq/management-parse.js";
import { detectEscaping, parsePrometheusQueues } from "../src/brokers/rabbitmq/prometheus-parse.js";
import type { QueueReading } from "../src/sources/types.js";
import type { Manifest } from "./fixtures/rabbitmq/record.js";

// Payloads recorded from RabbitMQ 3.10.8 by fixtures/rabbitmq/record.ts; manifest.json says what
// that script set up, and every expectation below is derived from it.
const fixture = (file: string) => readFileSync(new URL(`./fixtures/rabbitmq/${file}`, import.meta.url), "utf8");
const manifest = JSON.parse(fixture("manifest.json")) as Manifest;

function expectedReading(queue: Manifest["queues"][number], extra = 0) {
  return {
    broker: "rabbitmq" as const,
    labels: { vhost: manifest.vhost, queue: queue.name },
    depth: queue.published + extra,
    ready: queue.published + extra - queue.heldUnacked,
    unacked: queue.heldUnacked,
    consumers: queue.heldUnacked > 0 ? 1 : 0,
  };
}

const byName = (readings: readonly QueueReading[]) =>
  [...readings].sort((a, b) => (a.labels.queue! < b.labels.queue! ? -1 : 1));

describe("rabbitmq_prometheus payload parser", () => {
  it("reads ready, unacked and consumers of every queue, names with spaces, dots, unicode, quotes and a vhost with /", () => {
    const readings = parsePrometheusQueues(fixture("prometheus-node-a.txt"));
    expect(byName(readings)).toEqual(byName(manifest.queues.map((queue) => expectedReading(queue))));
  });

  it("reads 3.10's unescaped label values as they are", () => {
    const names = parsePrometheusQueues(fixture("prometheus-node-a.txt")).map((reading) => reading.labels.queue);
    expect(names).toContain(manifest.queues.find((queue) => queue.name.includes('"'))!.name);
  });

  it("unescapes label values of a broker that escapes them (3.13+)", () => {
    const quoted = manifest.queues.find((queue) => queue.name.includes('"'))!.name;
    const escaped = fixture("prometheus-node-a.txt")
      .split("\n")
      .map((line) =>
        line.startsWith("rabbitmq_detailed_queue")
          ? line.replace(`queue="${quoted}"`, `queue="${quoted.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)
          : line.replace('rabbitmq_version="3.10.8"', 'rabbitmq_version="3.13.7"'),
      )
      .join("\n");
    expect(escaped).not.toEqual(fixture("prometheus-node-a.txt"));
    const names = parsePrometheusQueues(escaped).map((reading) => reading.labels.queue);
    expect(names).toContain(quoted);
  });

  it("tells raw from escaped payloads by version, else by whether every value is validly escaped", () => {
    expect(detectEscaping('rabbitmq_build_info{rabbitmq_version="3.10.8"} 1', () => ["a\\\\b"])).toBe("raw");
    expect(detectEscaping('rabbitmq_build_info{rabbitmq_version="4.0.1"} 1', () => ['a"b'])).toBe("escaped");
    expect(detectEscaping("", () => ['a"b'])).toBe("raw");
    expect(detectEscaping("", () => ["a\\qb"])).toBe("raw");
    expect(detectEscaping("", () => ['a\\"b', "a\\\\b"])).toBe("escaped");
  });

  it("rejects a sample line it cannot cut as a parse failure", () => {
    expect(() => parsePrometheusQueues('rabbitmq_detailed_queue_messages_ready{vhost="/"} 1\n')).toThrow(
      expect.objectContaining({ reason: "parse" }),
    );
    expect(() => parsePrometheusQueues('rabbitmq_detailed_queue_messages_ready{vhost="/",queue="q"} many\n')).toThrow(
      expect.objectContaining({ reason: "parse" }),
    );
  });

  it("merges two nodes' payloads taking the larger figure for a queue both report", () => {
    // Two recordings of the one local node, the second after more messages reached one queue,
    // stand in for two cluster nodes reporting the same queue (a leader change).
    const nodeA = parsePrometheusQueues(fixture("prometheus-node-a.txt"));
    const nodeB = parsePrometheusQueues(fixture("prometheus-node-b.txt"));
    const merged = mergeReadings([nodeA, nodeB]);
    expect(byName(merged)).toEqual(
      byName(
        manifest.queues.map((queue) =>
          expectedReading(queue, queue.name === manifest.between.queue ? manifest.between.published : 0),
        ),
      ),
    );
  });
});

describe("management API page parser", () => {
  const pages = [1, 2, 3].map((page) => JSON.parse(fixture(`management-page-${page}.json`)) as unknown);

  it("reads every page up to page_count and together they hold every queue", () => {
    const parsed = pages.map((page) => parseManagementPage(page, manifest.recordedAtMs));
    expect(parsed.map((page) => page.page)).toEqual([1, 2, 3]);
    expect(parsed.map((page) => page.pageCount)).toEqual(
      pages.map(() => Math.ceil(manifest.queues.length / manifest.managementPageSize)),
    );
    const readings = parsed.flatMap((page) => page.readings);
    const expected = manifest.queues.map((queue) => ({
      ...expectedReading(queue),
      oldestMessageAgeSeconds:
        queue.timestamp === undefined ? undefined : manifest.recordedAtMs / 1000 - queue.timestamp,
    }));
    expect(byName(readings)).toEqual(byName(expected));
  });

  it("leaves out a queue whose counters are not there yet, and rejects a body that is not a page", () => {
    const page = { items: [{ name: "fresh", vhost: "/" }], page: 1, page_count: 1 };
    expect(parseManagementPage(page, 0).readings).toEqual([]);
    expect(() => parseManagementPage([{ name: "q" }], 0)).toThrow(expect.objectContaining({ reason: "parse" }));
  });

  it("never reports a negative age when the publisher's clock is ahead", () => {
    const page = JSON.parse(fixture("management-page-1.json")) as unknown;
    const readings = parseManagementPage(page, 0).readings;
    const stamped = readings.filter((reading) => reading.oldestMessageAgeSeconds !== undefined);
    expect(stamped.length).toBeGreaterThan(0);
    for (const reading of stamped) expect(reading.oldestMessageAgeSeconds).toBe(0);
  });

  it("pushes only the literal start of an anchored QUEUE_INCLUDE to the server", () => {
    const server = (source: string) => serverSideNamePattern(new Re2Pattern(source));
    expect(serverSideNamePattern(undefined)).toBeUndefined();
    expect(server("^orders\\.v\\d+$")).toBe("^orders\\.v");
    expect(server("^jobs-.*$")).toBe("^jobs\\-");
    expect(server("^a.b$")).toBe("^a");
    expect(server("^ab?c")).toBe("^a");
    expect(server("^ab+c")).toBe("^ab");
    expect(server("^ab{2}")).toBe("^a");
    expect(server("^ab(c|d)")).toBeUndefined();
    expect(server("^ab|^cd")).toBeUndefined();
    expect(server("^[^x]+$")).toBeUndefined();
    expect(server("^队列")).toBeUndefined();
    expect(server("\\p{L}+")).toBeUndefined();
    // Backtracks catastrophically in a backtracking engine such as the broker's: never sent.
    expect(server("(a+)+$")).toBeUndefined();
    expect(server("^x(a+)+$")).toBe("^x");
  });

  it("never narrows what the whole pattern keeps", () => {
    const names = ["orders.v1", "orders-v1", "ORDERS.v1", "jobs-1", "jobs", "ab", "abbc", "ac", "x", "xaaa"];
    for (const source of ["^orders\\.v\\d+$", "^jobs-.*$", "^ab+c", "^ab?c", "^x(a+)+$"]) {
      const pattern = new Re2Pattern(source);
      const server = new RegExp(serverSideNamePattern(pattern)!, "i");
      for (const name of names.filter((name) => pattern.test(name)))
        expect(server.test(name), `${source} ${name}`).toBe(true);
    }
  });
});

describe("passive declare replies", () => {
  const replies = JSON.parse(fixture("amqp-declare-ok.json")) as DeclareOk[];

  it("give ready and consumers; depth is the ready count, unacked unknown (classic and quorum alike)", () => {
    const readings = replies.map((reply) => readingFromDeclareOk(manifest.vhost, reply));
    const expected = manifest.queues.map((queue) => ({
      broker: "rabbitmq" as const,
      labels: { vhost: manifest.vhost, queue: queue.name },
      depth: queue.published - queue.heldUnacked,
      ready: queue.published - queue.heldUnacked,
      consumers: queue.heldUnacked > 0 ? 1 : 0,
    }));
    expect(byName(readings)).toEqual(byName(expected));
    for (const reading of readings) expect(reading.unacked).toBeUndefined();
  });

  it("take the vhost from the AMQP URL as amqplib does", () => {
    expect(vhostOfAmqpUrl("amqp://u:p@host:5672")).toBe("/");
    expect(vhostOfAmqpUrl("amqp://u:p@host:5672/")).toBe("/");
    expect(vhostOfAmqpUrl("amqp://host/%2F")).toBe("/");
    expect(vhostOfAmqpUrl(`amqp://host/${encodeURIComponent(manifest.vhost)}`)).toBe(manifest.vhost);
  });
});
