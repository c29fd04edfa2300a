import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  NameFilter,
  SourceError,
  createLogger,
  freePort,
  natsAdapter,
  readSettings,
  type DepthSource,
} from "@queuescale/core";
import { natsConnectionOptions } from "../src/brokers/nats/connection.js";
import { JetStreamSource } from "../src/brokers/nats/jetstream-source.js";
import { JszSource } from "../src/brokers/nats/jsz-source.js";
import { JetStreamScenario, SHARED_NATS_URL } from "@queuescale/test-support/nats/scenario";
import { startNatsServer, type NatsTestServer } from "@queuescale/test-support/nats-server";
import { TcpProxy } from "@queuescale/test-support/tcp-proxy";

const logger = createLogger("test", "silent");
const context = { filter: NameFilter.all(), logger };

function sourcesFor(env: Record<string, string>): DepthSource[] {
  return natsAdapter.depth.createSources(readSettings(natsAdapter.settings, { env }), context);
}

/** The SourceError a poll fails with; a poll that hangs ends with the signal's timeout instead. */
async function pollError(source: DepthSource, timeoutMs = 8000): Promise<SourceError> {
  try {
    await source.poll(AbortSignal.timeout(timeoutMs));
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw new Error(`expected a SourceError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected the poll to fail");
}

describe("NATS settings", () => {
  it("builds one /jsz source per monitoring URL, in preference to the JetStream API", () => {
    const sources = sourcesFor({
      NATS_URL: "nats://127.0.0.1:4222",
      NATS_MONITOR_URL: "http://127.0.0.1:8222, http://nats-1.nats:8222",
    });
    expect(sources.map((source) => [source.broker, source.name])).toEqual([
      ["nats", "jsz@127.0.0.1:8222"],
      ["nats", "jsz@nats-1.nats:8222"],
    ]);
    expect(sourcesFor({ NATS_URL: "nats://127.0.0.1:4222" }).map((source) => source.name)).toEqual(["jetstream"]);
  });

  it("takes credentials out of the URL", () => {
    expect(natsConnectionOptions("nats://alice:s%40cret@127.0.0.1:4222")).toEqual({
      servers: "nats://127.0.0.1:4222",
      user: "alice",
      pass: "s@cret",
    });
    expect(natsConnectionOptions("nats://t0ken@127.0.0.1:4222")).toEqual({
      servers: "nats://127.0.0.1:4222",
      token: "t0ken",
    });
    expect(natsConnectionOptions("nats://127.0.0.1:4222")).toEqual({ servers: "nats://127.0.0.1:4222" });
    expect(natsConnectionOptions("tls://nats.example:4222")).toEqual({ servers: "tls://nats.example:4222", tls: {} });
  });

  it("refuses a WebSocket URL, which the Node client cannot speak, naming the setting", () => {
    expect(() => sourcesFor({ NATS_URL: "ws://127.0.0.1:8080" })).toThrow(/NATS_URL/);
  });
});

describe("JetStream API source failures", () => {
  it("fails with reason connection when nothing listens", async () => {
    const port = await freePort();
    const source = new JetStreamSource({
      connection: natsConnectionOptions(`nats://127.0.0.1:${port}`),
      filter: NameFilter.all(),
      logger,
    });
    try {
      expect((await pollError(source)).reason).toBe("connection");
    } finally {
      await source.close();
    }
  });

  describe("against a server that wants a password", () => {
    let server: NatsTestServer;
    const password = "pa55-w0rd-not-for-logs";

    beforeAll(async () => {
      server = await startNatsServer({ args: ["--user", "queuescale", "--pass", password] });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("fails with reason auth on a wrong password, and the message does not hold it", async () => {
      const wrong = "wrong-secret-value";
      const [source] = sourcesFor({ NATS_URL: `nats://queuescale:${wrong}@127.0.0.1:${server.port}` });
      try {
        const error = await pollError(source!);
        expect(error.reason).toBe("auth");
        expect(`${error.message} ${String(error.cause)}`).not.toContain(wrong);
      } finally {
        await source!.close();
      }
    });

    it("reads with the password from the URL", async () => {
      const [source] = sourcesFor({ NATS_URL: `nats://queuescale:${password}@127.0.0.1:${server.port}` });
      try {
        const snapshot = await source!.poll(AbortSignal.timeout(8000));
        expect(snapshot.readings).toEqual([]);
      } finally {
        await source!.close();
      }
    });
  });

  describe("while the connection is cut", () => {
    let scenario: JetStreamScenario;
    const proxy = new TcpProxy(Number(new URL(SHARED_NATS_URL).port));
    let source: JetStreamSource;

    beforeAll(async () => {
      scenario = await JetStreamScenario.create();
      await scenario.addPullConsumer("c", {});
      await scenario.publish("x", 2);
      await proxy.start();
      source = new JetStreamSource({
        connection: natsConnectionOptions(`nats://${proxy.address}`),
        filter: new NameFilter(new RegExp(`^${scenario.stream}$`, "u")),
        logger,
      });
    });
    afterAll(async () => {
      await source?.close();
      await proxy.close();
      await scenario?.dispose();
    });

    it("fails promptly with reason connection instead of waiting for the reconnect, and reads again after", async () => {
      const before = await source.poll(AbortSignal.timeout(8000));
      expect(before.readings.map((reading) => reading.depth)).toEqual([2]);
      await proxy.cut();
      // A long signal: a poll that waited on the client's buffer would end with the signal, not a SourceError.
      expect((await pollError(source, 30_000)).reason).toBe("connection");
      expect((await pollError(source, 30_000)).reason).toBe("connection");
      await proxy.restore();
      let after;
      for (let attempt = 0; attempt < 100 && !after; attempt++) {
        after = await source.poll(AbortSignal.timeout(8000)).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      expect(after?.readings.map((reading) => reading.depth)).toEqual([2]);
    });
  });
});

describe("JetStream API source: a stream with more consumers than a page holds", () => {
  let scenario: JetStreamScenario;

  beforeAll(async () => {
    scenario = await JetStreamScenario.create();
    // Three pages of the server's 256: the later two are asked for together.
    const names = Array.from({ length: 600 }, (_unused, index) => `c${String(index).padStart(3, "0")}`);
    for (let first = 0; first < names.length; first += 50) {
      await Promise.all(names.slice(first, first + 50).map((name) => scenario.addPullConsumer(name)));
    }
    await scenario.publish("x", 3);
  }, 120_000);
  afterAll(async () => {
    await scenario?.dispose();
  });

  it("reads every consumer once, each with its depth", async () => {
    const source = new JetStreamSource({
      connection: natsConnectionOptions(SHARED_NATS_URL),
      filter: new NameFilter(new RegExp(`^${scenario.stream}$`, "u")),
      logger,
    });
    try {
      const { readings } = await source.poll(AbortSignal.timeout(20_000));
      const names = readings.map((reading) => reading.labels.consumer);
      expect(names).toHaveLength(600);
      expect(new Set(names).size).toBe(600);
      expect(names).toContain("c000");
      expect(names).toContain("c599");
      expect(readings.every((reading) => reading.depth === 3)).toBe(true);
    } finally {
      await source.close();
    }
  });
});

describe("JetStream API source: oldest message age", () => {
  let scenario: JetStreamScenario;
  let source: JetStreamSource;

  beforeAll(async () => {
    scenario = await JetStreamScenario.create();
    await scenario.addPullConsumer("c", {});
    source = new JetStreamSource({
      connection: natsConnectionOptions(SHARED_NATS_URL),
      filter: new NameFilter(new RegExp(`^${scenario.stream}$`, "u")),
      logger,
    });
  });
  afterAll(async () => {
    await source?.close();
    await scenario?.dispose();
  });

  /** Polls and checks the age lies within what the publish times allow. */
  async function ageBetween(published: { firstBeforeMs: number; firstAfterMs: number }): Promise<number> {
    const startedMs = Date.now();
    const snapshot = await source.poll(AbortSignal.timeout(8000));
    const endedMs = Date.now();
    const age = snapshot.readings[0]?.oldestMessageAgeSeconds;
    // 5 ms of slack for the millisecond rounding of the two clocks' readings.
    expect(age).toBeGreaterThanOrEqual((startedMs - published.firstAfterMs) / 1000 - 0.005);
    expect(age).toBeLessThanOrEqual((endedMs - published.firstBeforeMs) / 1000 + 0.005);
    return age!;
  }

  it("follows the ack floor: once the oldest message is acknowledged, the next one's age counts", async () => {
    const first = await scenario.publish("x", 1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = await scenario.publish("x", 1);
    await ageBetween(first);
    // Twice, so the second answer may come from what the source remembers.
    await ageBetween(first);
    await scenario.receive("c", 1, 1);
    await ageBetween(second);
  });
});

describe("/jsz source failures", () => {
  let server: Server;
  let baseUrl: string;
  const answers: Record<string, [number, string]> = {
    "/broken": [500, "oops"],
    "/denied": [401, "no"],
    "/garbage": [200, "<html>not json</html>"],
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const prefix = Object.keys(answers).find((key) => request.url?.startsWith(`${key}/`));
      const [status, body] = prefix ? answers[prefix]! : [404, ""];
      response.writeHead(status).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const jsz = (url: string) => new JszSource({ url, filter: NameFilter.all(), logger });

  it("names the reason: http_status, auth, not_found, parse, connection", async () => {
    expect((await pollError(jsz(`${baseUrl}/broken`))).reason).toBe("http_status");
    // The same mapping as every other HTTP depth source: 404 is not_found.
    expect((await pollError(jsz(`${baseUrl}/nowhere`))).reason).toBe("not_found");
    expect((await pollError(jsz(`${baseUrl}/denied`))).reason).toBe("auth");
    expect((await pollError(jsz(`${baseUrl}/garbage`))).reason).toBe("parse");
    expect((await pollError(jsz(`http://127.0.0.1:${await freePort()}`))).reason).toBe("connection");
  });

  it("never puts the monitoring URL's credentials into its name or errors", async () => {
    const source = jsz(`http://admin:hunter2-secret@127.0.0.1:${(server.address() as AddressInfo).port}/broken`);
    expect(source.name).not.toContain("hunter2");
    expect((await pollError(source)).message).not.toContain("hunter2");
  });
});

describe("both sources: consumer names that are not ASCII", () => {
  // Answers of ASCII bytes are copied, others decoded as UTF-8 (decodeAnswer): a name outside
  // ASCII must come out whole through either path.
  const names = ["wörker-ß", "作業者", "plain"];
  let server: NatsTestServer;
  let scenario: JetStreamScenario;

  beforeAll(async () => {
    server = await startNatsServer();
    scenario = await JetStreamScenario.create(server.url);
    for (const name of names) await scenario.addPullConsumer(name);
    await scenario.publish("x", 2);
  }, 60_000);
  afterAll(async () => {
    await scenario?.dispose();
    await server?.stop();
  });

  it.each([
    ["JetStream API", () => sourcesFor({ NATS_URL: server.url })],
    ["/jsz", () => sourcesFor({ NATS_MONITOR_URL: server.monitorUrl })],
  ])("the %s source reports each by its name", async (_kind, create) => {
    const [source] = create();
    try {
      const { readings } = await source!.poll(AbortSignal.timeout(10_000));
      const byName = new Map(readings.map((reading) => [reading.labels.consumer, reading.depth]));
      expect([...byName.keys()].sort()).toEqual([...names].sort());
      for (const name of names) expect(byName.get(name)).toBe(2);
    } finally {
      await source!.close();
    }
  });
});
