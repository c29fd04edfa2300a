import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError, readSettings } from "@queuescale/core";
import { describe, expect, it } from "vitest";
import { splitCommand } from "../src/cli/args.js";
import { parseDurationMs } from "../src/duration.js";
import { RequestError, parsePublishRequest } from "../src/messages.js";
import { producerSettings } from "../src/settings.js";

function refusal(run: () => unknown): RequestError {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestError) return error;
    throw error;
  }
  throw new Error("expected a RequestError");
}

describe("publish request bodies", () => {
  it("turn one message into one JSON-encoded message with a generated id", () => {
    const [message, ...rest] = parsePublishRequest({ body: { a: [1, 2] }, headers: { tenant: "acme" } }, 10);
    expect(rest).toEqual([]);
    expect(message!.body.toString()).toBe('{"a":[1,2]}');
    expect(message!.contentType).toBe("application/json");
    expect(message!.headers).toEqual({ tenant: "acme" });
    expect(message!.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keep a given id and accept any JSON body, null included", () => {
    const messages = parsePublishRequest({ messages: [{ body: null, id: "a" }, { body: "text" }] }, 10);
    expect(messages.map((message) => message.body.toString())).toEqual(["null", '"text"']);
    expect(messages[0]!.id).toBe("a");
  });

  it("refuse a body nested too deep to encode again, instead of overflowing the stack", () => {
    const depth = 200_000;
    const body: unknown = JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    const error = refusal(() => parsePublishRequest({ messages: [{ body: 1 }, { body }] }, 10));
    expect(error.status).toBe(400);
    expect(error.message).toContain("messages.1.body");
    expect(error.message).toContain("deeper");
  });

  it.each([
    ["not an object", 42, 400, "JSON object"],
    ["no body", { id: "x" }, 400, "body"],
    ["messages not an array", { messages: {} }, 400, "array"],
    ["a field next to messages", { messages: [{ body: 1 }], body: 2 }, 400, "body"],
    ["a header with a line break", { body: 1, headers: { a: "x\r\ny" } }, 400, "headers.a"],
    ["a non-string header", { body: 1, headers: { a: 1 } }, 400, "headers.a"],
    ["a reserved header", { body: 1, headers: { "nats-msg-id": "x" } }, 400, "reserved"],
    ["a header RabbitMQ routes by", { body: 1, headers: { cc: "x" } }, 400, "headers.cc: header cc is reserved"],
    ["a worker bookkeeping header", { body: 1, headers: { "x-queuescale-retries": "9" } }, 400, "x-queuescale-retries"],
    ["an id with a space", { body: 1, id: "a b" }, 400, "id"],
    ["too many messages", { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] }, 413, "MAX_BATCH_MESSAGES"],
  ])("refuse %s", (_what, raw, status, mention) => {
    const error = refusal(() => parsePublishRequest(raw, 2));
    expect(error.status).toBe(status);
    expect(error.message).toContain(mention);
  });
});

describe("command line", () => {
  it("serves by default and passes settings flags through", () => {
    expect(splitCommand(["--broker", "nats"])).toMatchObject({ name: "serve", settingsArgv: ["--broker", "nats"] });
  });

  it("takes --queue and --file for publish, in either flag form", () => {
    expect(splitCommand(["publish", "--queue=orders", "--file", "in.txt", "--broker", "rabbitmq"])).toEqual({
      name: "publish",
      queue: "orders",
      file: "in.txt",
      fromLine: 1,
      settingsArgv: ["--broker", "rabbitmq"],
    });
    expect(splitCommand(["publish", "--queue", "orders"]).file).toBe("-");
  });

  it("takes --format, --from-line and --upload-id for publish only", () => {
    expect(
      splitCommand(["publish", "--queue", "q", "--format=csv", "--from-line", "7201", "--upload-id", "up-1"]),
    ).toMatchObject({ format: "csv", fromLine: 7201, uploadId: "up-1" });
    expect(() => splitCommand(["publish", "--queue", "q", "--upload-id", "has space"])).toThrow(/--upload-id/);
    expect(() => splitCommand(["trickle", "--queue", "q", "--from-line", "2"])).toThrow(/--from-line/);
  });

  it("maps trickle's --interval onto MESSAGE_INTERVAL", () => {
    const command = splitCommand(["trickle", "--queue", "q", "--interval", "200ms", "--broker", "nats"]);
    const settings = readSettings(producerSettings, { argv: command.settingsArgv, env: { NATS_URL: "nats://h:4222" } });
    expect(settings.MESSAGE_INTERVAL).toBe(200);
  });

  it.each([
    [["frobnicate"], "command"],
    [["publish"], "--queue"],
    [["trickle", "--queue"], "--queue"],
    [["--queue", "q"], "command"],
  ])("refuses %j naming %s", (argv, setting) => {
    expect(() => splitCommand(argv)).toThrow(ConfigError);
    try {
      splitCommand(argv);
    } catch (error) {
      expect((error as ConfigError).setting).toBe(setting);
    }
  });
});

describe("settings", () => {
  it.each([
    [{}, "BROKER"],
    [{ BROKER: "kafka" }, "BROKER"],
    [{ BROKER: "nats", NATS_URL: "http://h" }, "NATS_URL"],
    [{ BROKER: "nats", ADMIN_TOKEN: "short" }, "ADMIN_TOKEN"],
    [{ BROKER: "nats", MAX_BODY_BYTES: "0" }, "MAX_BODY_BYTES"],
    [{ BROKER: "nats", MESSAGE_INTERVAL: "soon" }, "MESSAGE_INTERVAL"],
    [{ BROKER: "nats", STREAM: "a.b" }, "STREAM"],
    [{ BROKER: "nats", STREAM: "WORK_DEAD" }, "STREAM"],
    [{ BROKER: "nats", ALLOWED_QUEUES: "," }, "ALLOWED_QUEUES"],
    [{ BROKER: "nats", ALLOWED_QUEUES: "orders,a*b" }, "ALLOWED_QUEUES"],
    [{ BROKER: "nats", RABBITMQ_HEARTBEAT_SECONDS: "0" }, "RABBITMQ_HEARTBEAT_SECONDS"],
    [{ BROKER: "nats", SHUTDOWN_TIMEOUT_SECONDS: "1e9" }, "SHUTDOWN_TIMEOUT_SECONDS"],
  ])("refuse %j naming %s", (env, setting) => {
    try {
      readSettings(producerSettings, { env });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).setting).toBe(setting);
    }
  });

  it("each have a description for --help", () => {
    for (const [setting, schema] of Object.entries(producerSettings)) expect(schema.description, setting).toBeTruthy();
  });
});

describe("durations", () => {
  it.each([
    ["200ms", 200],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["250", 250],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(["", "0", "-1s", "1d", "fast"])("%j is not a duration", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe("docs/producer.md", () => {
  it("documents every setting in its configuration table, one row each", () => {
    const text = readFileSync(fileURLToPath(new URL("../../docs/producer.md", import.meta.url)), "utf8");
    const table = text.slice(
      text.indexOf("<!-- settings:producer:start -->"),
      text.indexOf("<!-- settings:producer:end -->"),
    );
    const documented = table
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => /`([A-Z_]+)`/.exec(line)?.[1]);
    expect([...documented].sort()).toEqual(Object.keys(producerSettings).sort());
  });
});
