import { describe, expect, it } from "vitest";
import { ConfigError, readSettings } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { NameFilter } from "../src/sources/filter.js";
import { rabbitmqAdapter } from "../src/brokers/rabbitmq/index.js";
import type { DepthSource } from "../src/sources/types.js";

const context = { filter: NameFilter.all(), logger: createLogger("test", "silent") };

function build(env: Record<string, string>, filter = NameFilter.all()): DepthSource[] {
  const settings = readSettings(rabbitmqAdapter.settings, { env });
  return rabbitmqAdapter.depth.createSources(settings, { ...context, filter });
}

function configError(env: Record<string, string>): ConfigError {
  try {
    const sources = build(env);
    void Promise.all(sources.map((source) => source.close()));
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("no ConfigError");
}

async function names(env: Record<string, string>): Promise<string[]> {
  const sources = build(env);
  await Promise.all(sources.map((source) => source.close()));
  return sources.map((source) => source.name);
}

const AMQP = "amqp://guest:guest@127.0.0.1:5672";

describe("RabbitMQ source settings", () => {
  it("name the setting an explicit kind is missing", () => {
    expect(configError({ RABBITMQ_SOURCE: "amqp", RABBITMQ_QUEUES: "a" }).setting).toBe("RABBITMQ_URL");
    expect(configError({ RABBITMQ_SOURCE: "amqp", RABBITMQ_URL: AMQP }).setting).toBe("RABBITMQ_QUEUES");
    expect(configError({ RABBITMQ_SOURCE: "prometheus", RABBITMQ_URL: AMQP }).setting).toBe("RABBITMQ_PROMETHEUS_URL");
    expect(configError({ RABBITMQ_SOURCE: "management", RABBITMQ_URL: AMQP }).setting).toBe("RABBITMQ_MANAGEMENT_URL");
    expect(
      configError({ RABBITMQ_SOURCE: "amqp", RABBITMQ_URL: `${AMQP}/a`, RABBITMQ_QUEUES: "q", RABBITMQ_VHOSTS: "b" })
        .setting,
    ).toBe("RABBITMQ_VHOSTS");
  });

  it("refuse auto with only an AMQP URL and no queues, rather than guess a management address", () => {
    const error = configError({ RABBITMQ_URL: AMQP });
    expect(error.setting).toBe("RABBITMQ_QUEUES");
    expect(error.message).toContain("RABBITMQ_MANAGEMENT_URL");
  });

  it("never echo a credential in a ConfigError", () => {
    const error = configError({ RABBITMQ_SOURCE: "management", RABBITMQ_URL: "amqp://admin:s3cr3t-pw@h:5672" });
    expect(error.message).not.toContain("s3cr3t-pw");
  });

  it("give one source per prometheus node, named by node only when there are several", async () => {
    expect(await names({ RABBITMQ_PROMETHEUS_URL: "http://127.0.0.1:15692" })).toEqual(["prometheus"]);
    expect(await names({ RABBITMQ_PROMETHEUS_URL: "http://rabbit-0:15692, http://rabbit-1:15692" })).toEqual([
      "prometheus@rabbit-0:15692",
      "prometheus@rabbit-1:15692",
    ]);
  });

  it("give one amqp source per listed queue the name filter keeps", async () => {
    const sources = build(
      { RABBITMQ_SOURCE: "amqp", RABBITMQ_URL: AMQP, RABBITMQ_QUEUES: "jobs.a, jobs b,skip.me" },
      new NameFilter(undefined, /^skip/u),
    );
    await Promise.all(sources.map((source) => source.close()));
    expect(sources.map((source) => source.name)).toEqual(["amqp:jobs.a", "amqp:jobs b"]);
  });

  it("make auto the only configured kind itself, and one auto source when there is a choice", async () => {
    expect(await names({ RABBITMQ_MANAGEMENT_URL: "http://127.0.0.1:15672" })).toEqual(["management"]);
    expect(await names({ RABBITMQ_URL: AMQP, RABBITMQ_QUEUES: "q" })).toEqual(["amqp:q"]);
    expect(
      await names({
        RABBITMQ_MANAGEMENT_URL: "http://127.0.0.1:15672",
        RABBITMQ_PROMETHEUS_URL: "http://127.0.0.1:15692",
      }),
    ).toEqual(["auto"]);
  });
});
