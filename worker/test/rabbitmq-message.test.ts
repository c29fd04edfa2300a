import { readFileSync } from "node:fs";
import type { ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import {
  RabbitMqMessage,
  attemptOf,
  copyProperties,
  retriesOf,
} from "../../core/src/brokers/rabbitmq/worker/message.js";
import { DecodeError } from "../src/message.js";

/** A message as recorded from the local RabbitMQ by fixtures/rabbitmq/record.ts. */
function recorded(name: string): ConsumeMessage {
  const record = JSON.parse(readFileSync(new URL(`./fixtures/rabbitmq/${name}.json`, import.meta.url), "utf8")) as {
    fields: ConsumeMessage["fields"];
    properties: ConsumeMessage["properties"];
    content: string;
  };
  return { fields: record.fields, properties: record.properties, content: Buffer.from(record.content, "base64") };
}

/** The work queue of the recorded dead letter (fresh messages have none: any name does). */
function queueOf(raw: ConsumeMessage): string {
  return String(raw.properties.headers?.["x-queuescale-queue"] ?? "fixture");
}

describe("RabbitMQ message parsing", () => {
  it("reads a fresh message as attempt 1 with the publisher's id", () => {
    const raw = recorded("fresh");
    const message = new RabbitMqMessage(raw, queueOf(raw), "quorum");
    expect(message.attempt).toBe(1);
    expect(message.id).toBe(raw.properties.messageId);
    expect(message.json()).toEqual(JSON.parse(raw.content.toString()));
    expect(message.body.equals(raw.content)).toBe(true);
  });

  it("counts the retries the worker scheduled, from its header after the retry queue's round trips", () => {
    const raw = recorded("dead-letter");
    const retries = raw.properties.headers!["x-queuescale-retries"] as number;
    expect(retriesOf(raw.properties.headers, queueOf(raw))).toBe(retries);
    expect(attemptOf(raw, queueOf(raw), "classic")).toBe(retries + 1);
    // RabbitMQ's own x-death count agrees: one dead-lettering per trip through the retry queue.
    const deaths = raw.properties.headers!["x-death"] as { count: number }[];
    expect(deaths[0]!.count).toBe(retries);
  });

  it("adds the redeliveries a quorum queue counts, believing x-delivery-count only on a redelivery", () => {
    const raw = recorded("fresh");
    const headers = { ...raw.properties.headers, "x-delivery-count": 2 };
    const first = { ...raw, properties: { ...raw.properties, headers } };
    const again = { ...first, fields: { ...raw.fields, redelivered: true } };
    expect(attemptOf(again, "q", "quorum")).toBe(3);
    expect(attemptOf(again, "q", "unknown")).toBe(3);
    // A first delivery carries the publisher's value; a classic queue never sets one.
    expect(attemptOf(first, "q", "quorum")).toBe(1);
    expect(attemptOf(again, "q", "classic")).toBe(1);
  });

  it("believes x-queuescale-retries only on a message that came back from the retry queue", () => {
    const raw = recorded("dead-letter");
    expect(retriesOf(raw.properties.headers, "another-queue")).toBe(0);
    const { "x-death": _deaths, ...forged } = raw.properties.headers!;
    expect(retriesOf(forged, queueOf(raw))).toBe(0);
  });

  it("gives headers as text, tables as JSON", () => {
    const raw = recorded("dead-letter");
    const headers = new RabbitMqMessage(raw, queueOf(raw), "quorum").headers;
    expect(headers.tenant).toBe(raw.properties.headers!.tenant);
    expect(headers.priority).toBe(String(raw.properties.headers!.priority));
    expect(JSON.parse(headers["x-death"]!)).toEqual(raw.properties.headers!["x-death"]);
  });

  it("derives a stable id from the body when the publisher set none", () => {
    const raw = recorded("fresh");
    const anonymous = { ...raw, properties: { ...raw.properties, messageId: undefined } };
    const id = new RabbitMqMessage(anonymous, queueOf(raw), "quorum").id;
    expect(id).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(new RabbitMqMessage({ ...anonymous }, queueOf(raw), "quorum").id).toBe(id);
  });

  it("throws DecodeError for a body that is not JSON", () => {
    const raw = recorded("fresh");
    const message = new RabbitMqMessage({ ...raw, content: Buffer.from("not json") }, queueOf(raw), "quorum");
    expect(() => message.json()).toThrow(DecodeError);
  });

  it("copies keep properties and headers, drop user-id and expiration, and are persistent", () => {
    const raw = recorded("dead-letter");
    const withExtras = {
      ...raw,
      properties: { ...raw.properties, userId: "someone", expiration: "100" },
    };
    const copy = copyProperties(withExtras, { "x-extra": 1 });
    expect(copy.persistent).toBe(true);
    expect(copy.messageId).toBe(raw.properties.messageId);
    expect(copy.contentType).toBe(raw.properties.contentType);
    expect(copy.headers).toEqual({ ...raw.properties.headers, "x-extra": 1 });
    expect(copy).not.toHaveProperty("userId");
    expect(copy).not.toHaveProperty("expiration");
  });
});
