import { readFileSync } from "node:fs";
import type { ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { RabbitMqMessage, attemptOf, copyProperties, retriesOf } from "../src/brokers/rabbitmq-message.js";
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

describe("RabbitMQ message parsing", () => {
  it("reads a fresh message as attempt 1 with the publisher's id", () => {
    const raw = recorded("fresh");
    const message = new RabbitMqMessage(raw);
    expect(message.attempt).toBe(1);
    expect(message.id).toBe(raw.properties.messageId);
    expect(message.json()).toEqual(JSON.parse(raw.content.toString()));
    expect(message.body.equals(raw.content)).toBe(true);
  });

  it("counts the retries the worker scheduled, from its header after the retry queue's round trips", () => {
    const raw = recorded("dead-letter");
    const retries = raw.properties.headers!["x-queuescale-retries"] as number;
    expect(retriesOf(raw.properties.headers)).toBe(retries);
    expect(attemptOf(raw.properties)).toBe(retries + 1);
    // RabbitMQ's own x-death count agrees: one dead-lettering per trip through the retry queue.
    const deaths = raw.properties.headers!["x-death"] as { count: number }[];
    expect(deaths[0]!.count).toBe(retries);
  });

  it("adds the redeliveries a quorum queue counts", () => {
    const raw = recorded("fresh");
    const properties = { ...raw.properties, headers: { ...raw.properties.headers, "x-delivery-count": 2 } };
    expect(attemptOf(properties)).toBe(3);
  });

  it("gives headers as text, tables as JSON", () => {
    const raw = recorded("dead-letter");
    const headers = new RabbitMqMessage(raw).headers;
    expect(headers.tenant).toBe(raw.properties.headers!.tenant);
    expect(headers.priority).toBe(String(raw.properties.headers!.priority));
    expect(JSON.parse(headers["x-death"]!)).toEqual(raw.properties.headers!["x-death"]);
  });

  it("derives a stable id from the body when the publisher set none", () => {
    const raw = recorded("fresh");
    const anonymous = { ...raw, properties: { ...raw.properties, messageId: undefined } };
    const id = new RabbitMqMessage(anonymous).id;
    expect(id).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(new RabbitMqMessage({ ...anonymous }).id).toBe(id);
  });

  it("throws DecodeError for a body that is not JSON", () => {
    const raw = recorded("fresh");
    const message = new RabbitMqMessage({ ...raw, content: Buffer.from("not json") });
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
